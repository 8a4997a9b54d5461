"""The text model: which centre an alert's words point to, as probabilities.

A multinomial logistic regression over TF-IDF character 1–3-grams of the *normalised*
text, four classes (the destinations), trained by `gateway/routing/train_text_model.py`
(scikit-learn, offline) on every labelled file. It generalises where word lists cannot:
replayed on the blind batches as they arrived (docs/routing.md, round 6), the model alone
placed 95.9 % of alerts against the rules' 89.9 %. Alone it also sent more emergencies
to 12345 than the rules, so the engine uses it only inside the rules' safety bounds (see
`RuleEngine._arbitrate` and `ModelArbiter` in the rules schema).

The file (`gateway/rules/text_model.json`) holds the n-grams and, per n-gram, its idf²
and its weight per class times its idf (float32, base64); scoring needs no scikit-learn
(or numpy): one Aho-Corasick pass finds the known n-grams, TF is binary (an n-gram
present or not, as trained), the vector is L2-normalised, and the class scores go
through a softmax.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import sys
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from operator import itemgetter
from pathlib import Path

import ahocorasick

from contracts import Destination

TEXT_MODEL_FILE = Path(__file__).resolve().parent.parent / "rules" / "text_model.json"
MAX_N = 3
_VALUE = itemgetter(1)  # (end, row index) -> row index


def _pack(row: Sequence[float]) -> tuple[complex, ...]:
    """(idf², idf·w₁, …) two floats to a complex number: half the columns to sum, the same
    sums component by component (a trailing odd float gets a zero imaginary part)."""
    padded = (*row, 0.0) if len(row) % 2 else tuple(row)
    return tuple(complex(padded[i], padded[i + 1]) for i in range(0, len(padded), 2))


@dataclass(frozen=True, slots=True)
class TextModel:
    """Per n-gram (`names[i]`) its packed row `rows[i]` = (idf², idf·w_class…);
    `classes` in the weights' order."""

    classes: tuple[Destination, ...]
    intercepts: tuple[float, ...]
    names: tuple[str, ...]
    rows: tuple[tuple[complex, ...], ...]
    _automaton: ahocorasick.Automaton | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def logits(self, normalised: str) -> list[float]:
        """The class scores (in `classes` order) of a normalised text: the softmax of these
        is `probabilities`; the engine compares them directly (`share`)."""
        automaton = self._automaton if self._automaton is not None else self._build()
        # the distinct known n-grams (binary TF), by row index, all in C: the engine asks
        # this of every alert
        found = set(map(_VALUE, automaton.iter(normalised))) if normalised else ()
        if not found:
            return list(self.intercepts)
        sums = map(sum, zip(*map(self.rows.__getitem__, found), strict=False))
        flat = [x for z in sums for x in (z.real, z.imag)]
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

    def weight(self, index: int, k: int) -> float:
        """idf × the weight of n-gram `index` for class `k`."""
        z = self.rows[index][(k + 1) // 2]
        return z.imag if k % 2 == 0 else z.real

    def evidence(self, normalised: str, destination: Destination, top: int = 5) -> list[str]:
        """The n-grams (length ≥ 2) that pushed the text most towards `destination`."""
        k = self.classes.index(destination)
        automaton = self._automaton if self._automaton is not None else self._build()
        found = set(map(_VALUE, automaton.iter(normalised))) if normalised else set()
        weighed = ((self.weight(i, k), self.names[i]) for i in found)
        best = sorted(((w, g) for w, g in weighed if len(g) >= 2 and w > 0), reverse=True)
        return [g for _, g in best[:top]]

    def warm(self) -> None:
        """Build the automaton now (~0.3 s), not on the first alert."""
        if self._automaton is None:
            self._build()

    def _build(self) -> ahocorasick.Automaton:
        automaton = ahocorasick.Automaton()
        for i, gram in enumerate(self.names):
            automaton.add_word(gram, i)
        if self.names:
            automaton.make_automaton()
        object.__setattr__(self, "_automaton", automaton)  # a cache: the model stays immutable
        return automaton

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> TextModel:
        """From the file's content: `grams` (the n-grams, in row order) and `weights`
        (base64 of little-endian float32, per n-gram idf² then idf × each class's
        weight): one array, not a Python float per number, keeps a process ~70 MB
        smaller than a JSON list of lists did."""
        classes = data.get("classes")
        intercepts = data.get("intercepts")
        grams = data.get("grams")
        weights = data.get("weights")
        if not isinstance(classes, list) or not isinstance(intercepts, list):
            raise ValueError("text model: `classes` and `intercepts` must be lists")
        if len(intercepts) != len(classes):
            raise ValueError("text model: one intercept per class")
        if not isinstance(grams, list) or not isinstance(weights, str):
            raise ValueError("text model: `grams` must be a list and `weights` base64")
        width = len(classes) + 1
        table = array("f")
        try:
            table.frombytes(base64.b64decode(weights, validate=True))
        except (binascii.Error, ValueError) as exc:
            raise ValueError(f"text model: `weights`: {exc}") from None
        if sys.byteorder != "little":
            table.byteswap()
        if len(table) != width * len(grams):
            raise ValueError(f"text model: {len(table)} weights for {len(grams)} n-grams "
                             f"of {width}")
        for gram in grams:
            if not isinstance(gram, str) or not 1 <= len(gram) <= MAX_N:
                raise ValueError(f"text model: bad n-gram {gram!r}")
        return cls(
            classes=tuple(Destination(str(c)) for c in classes),
            intercepts=tuple(float(x) for x in intercepts),
            names=tuple(grams),
            rows=tuple(_pack(table[k : k + width]) for k in range(0, len(table), width)),
        )

    @staticmethod
    def encode(rows: list[list[float]]) -> str:
        """`weights` for the file: the rows (idf², idf·w…) as base64 little-endian float32."""
        table = array("f", (x for row in rows for x in row))
        if sys.byteorder != "little":
            table.byteswap()
        return base64.b64encode(table.tobytes()).decode("ascii")

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
