"""The text model: which centre an alert's words point to, as probabilities.

A multinomial logistic regression over TF-IDF character 1–3-grams of the *normalised*
text, four classes (the destinations), trained by `gateway/routing/train_text_model.py`
(scikit-learn, offline) on every labelled file. It generalises where word lists cannot:
replayed on the blind batches as they arrived (docs/routing.md, round 6), the model alone
placed 95.9 % of alerts against the rules' 89.9 %. Alone it also sent more emergencies
to 12345 than the rules, so the engine uses it only inside the rules' safety bounds (see
`RuleEngine._arbitrate` and `ModelArbiter` in the rules schema).

The file (`gateway/rules/text_model.json`) holds, per n-gram, its idf and its weight per
class times that idf; scoring needs no scikit-learn (or numpy): one Aho-Corasick pass
finds the known n-grams, TF is binary (an n-gram present or not, as trained), the
vector is L2-normalised, and the class scores go through a softmax.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import lru_cache
from operator import itemgetter
from pathlib import Path

import ahocorasick

from contracts import Destination

TEXT_MODEL_FILE = Path(__file__).resolve().parent.parent / "rules" / "text_model.json"
MAX_N = 3
_VALUE = itemgetter(1)  # (end, (gram, row)) -> (gram, row)


@dataclass(frozen=True, slots=True)
class TextModel:
    """Per n-gram `(idf², idf·w_class…)`; `classes` in the weights' order."""

    classes: tuple[Destination, ...]
    intercepts: tuple[float, ...]
    grams: dict[str, tuple[float, ...]]
    _automaton: ahocorasick.Automaton | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def logits(self, normalised: str) -> list[float]:
        """The class scores (in `classes` order) of a normalised text: the softmax of these
        is `probabilities`; the engine compares them directly (`hotline_share`)."""
        automaton = self._automaton if self._automaton is not None else self._build()
        # one row per distinct known n-gram (binary TF): keyed by the n-gram, the
        # dict drops repeats (all in C: the engine asks this of every alert)
        rows = dict(map(_VALUE, automaton.iter(normalised))).values() if normalised else ()
        if not rows:
            return list(self.intercepts)
        # each row is (idf², idf·w₁, …) packed two floats to a complex number: half the
        # columns to sum, the same sums component by component
        flat = [x for z in map(sum, zip(*rows, strict=False)) for x in (z.real, z.imag)]
        norm = math.sqrt(flat[0])
        if norm <= 0.0:
            return list(self.intercepts)
        return [b + w / norm for b, w in zip(self.intercepts, flat[1:], strict=False)]

    def probabilities(self, normalised: str) -> dict[Destination, float]:
        """P(destination | text) for a normalised text (the prior alone for no text)."""
        logits = self.logits(normalised)
        top = max(logits)
        exps = [math.exp(x - top) for x in logits]
        total = sum(exps)
        return {c: e / total for c, e in zip(self.classes, exps, strict=True)}

    @staticmethod
    def share(logits: list[float], k: int) -> float:
        """The probability of class `k` from the scores (the softmax of one class)."""
        mine = logits[k]
        return 1.0 / sum(math.exp(x - mine) for x in logits)

    def evidence(self, normalised: str, destination: Destination, top: int = 5) -> list[str]:
        """The n-grams (length ≥ 2) that pushed the text most towards `destination`."""
        k = self.classes.index(destination) + 1
        automaton = self._automaton if self._automaton is not None else self._build()
        found = dict(map(_VALUE, automaton.iter(normalised))) if normalised else {}
        grams = self.grams
        best = sorted(((grams[g][k], g) for g in found if len(g) >= 2 and grams[g][k] > 0),
                      reverse=True)
        return [g for _, g in best[:top]]

    def warm(self) -> None:
        """Build the automaton now (~0.3 s), not on the first alert."""
        if self._automaton is None:
            self._build()

    def _build(self) -> ahocorasick.Automaton:
        automaton = ahocorasick.Automaton()
        for gram, row in self.grams.items():
            padded = (*row, 0.0) if len(row) % 2 else row
            packed = tuple(complex(padded[i], padded[i + 1]) for i in range(0, len(padded), 2))
            automaton.add_word(gram, (gram, packed))
        if self.grams:
            automaton.make_automaton()
        object.__setattr__(self, "_automaton", automaton)  # a cache: the model stays immutable
        return automaton

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> TextModel:
        classes = data.get("classes")
        intercepts = data.get("intercepts")
        grams = data.get("grams")
        if not isinstance(classes, list) or not isinstance(intercepts, list):
            raise ValueError("text model: `classes` and `intercepts` must be lists")
        if not isinstance(grams, dict):
            raise ValueError("text model: `grams` must be a mapping")
        width = len(classes) + 1
        if len(intercepts) != len(classes):
            raise ValueError("text model: one intercept per class")
        parsed: dict[str, tuple[float, ...]] = {}
        for gram, row in grams.items():
            if not isinstance(row, list) or len(row) != width or not 1 <= len(gram) <= MAX_N:
                raise ValueError(f"text model: bad entry for n-gram {gram!r}")
            parsed[str(gram)] = tuple(float(x) for x in row)
        return cls(
            classes=tuple(Destination(str(c)) for c in classes),
            intercepts=tuple(float(x) for x in intercepts),
            grams=parsed,
        )

    @classmethod
    def load(cls, path: Path | None = None) -> TextModel:
        with (path or TEXT_MODEL_FILE).open(encoding="utf-8") as fh:
            data = json.load(fh)
        if not isinstance(data, dict):
            raise ValueError("text model: not a JSON object")
        return cls.from_dict(data)


@lru_cache(maxsize=4)
def cached_text_model(path: Path, mtime_ns: int) -> TextModel:
    """One model object per file version, shared by every engine (hot reload, tests)."""
    model = TextModel.load(path)
    model.warm()
    return model


__all__ = ["TEXT_MODEL_FILE", "TextModel", "cached_text_model"]
