"""The text model: which centre an alert's words point to, as probabilities.

A multinomial logistic regression over TF-IDF character 1–3-grams of the *normalised*
text, four classes (the destinations), trained by `gateway/routing/train_text_model.py`
(scikit-learn, offline) on every labelled file. It generalises where word lists cannot:
replayed on the blind batches as they arrived (docs/routing.md, round 6), the model alone
placed 95.9 % of alerts against the rules' 89.9 %. Alone it also sent more emergencies
to 12345 than the rules, so the engine uses it only inside the rules' safety bounds (see
`RuleEngine._arbitrate` and `ModelArbiter` in the rules schema).

The file (`gateway/rules/text_model.json`) holds the n-grams and, per n-gram, its idf²
and its weight per class times its idf (float32, base64); scoring needs no scikit-learn:
one Aho-Corasick pass finds the known n-grams, TF is binary (an n-gram present or not,
as trained), numpy sums their rows, the vector is L2-normalised, and the class scores go
through a softmax.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path

import ahocorasick
import numpy as np
import numpy.typing as npt

from contracts import Destination
from gateway.routing.ngram_table import MAX_N, NgramTable, slices

TEXT_MODEL_FILE = Path(__file__).resolve().parent.parent / "rules" / "text_model.json"
_VALUE = itemgetter(1)  # (end, row index) -> row index


@dataclass(frozen=True, slots=True)
class TextModel:
    """Per n-gram (`names[i]`) its row `table[i]` = (idf², idf·w_class…); `classes` in the
    weights' order."""

    classes: tuple[Destination, ...]
    intercepts: tuple[float, ...]
    names: tuple[str, ...]
    table: npt.NDArray[np.float64] = field(compare=False, repr=False)
    _automaton: ahocorasick.Automaton | None = field(
        default=None, init=False, repr=False, compare=False
    )
    _table: NgramTable | None = field(default=None, init=False, repr=False, compare=False)
    _long: npt.NDArray[np.bool_] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def logits(self, normalised: str) -> list[float]:
        """The class scores (in `classes` order) of a normalised text: the softmax of these
        is `probabilities`; the engine compares them directly (`share`)."""
        # the automaton pass is most of the cost, the gather and sum one numpy call (the
        # engine asks this of every alert: 2x faster than summing Python floats)
        rows = self._rows(normalised)
        if not len(rows):
            return list(self.intercepts)
        sums = self.table[rows].sum(axis=0)
        norm = math.sqrt(float(sums[0]))
        if norm <= 0.0:
            return list(self.intercepts)
        return [b + float(w) / norm for b, w in zip(self.intercepts, sums[1:], strict=True)]

    def logits_many(self, normalised: Sequence[str]) -> list[list[float]]:
        """`logits` of many texts at once: the same scores (summed in another order, so
        equal to ~1e-12), found with numpy over the whole batch (`NgramTable`) rather
        than one automaton pass per text — ~4x faster per text from 64 texts on. Texts
        are taken `ngram_table.BATCH_CHARS` characters at a time, so that a batch of long texts
        keeps its arrays (~40 bytes per character) small."""
        out: list[list[float]] = []
        for part in slices(normalised):
            out += self._logits_of(normalised[part])
        return out

    def _logits_of(self, normalised: Sequence[str]) -> list[list[float]]:
        scores = np.zeros((len(normalised), len(self.classes)))
        scores += np.asarray(self.intercepts)
        owner, row = self._ngram_table().occurrences(normalised)
        if not len(owner):
            return scores.tolist()
        firsts = np.flatnonzero(np.concatenate(([True], owner[1:] != owner[:-1])))
        sums = np.add.reduceat(self.table.take(row, axis=0), firsts, axis=0)
        norms = np.sqrt(sums[:, 0])
        scored = norms > 0.0
        scores[owner[firsts][scored]] += sums[scored, 1:] / norms[scored, None]
        return scores.tolist()

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

    def _rows(self, normalised: str) -> npt.NDArray[np.intp]:
        """The rows of the distinct known n-grams of one text (binary TF), by one
        automaton pass."""
        automaton = self._automaton if self._automaton is not None else self._build()
        found = set(map(_VALUE, automaton.iter(normalised))) if normalised else set()
        return np.fromiter(found, dtype=np.intp, count=len(found))

    def evidence(self, normalised: str, destination: Destination, top: int = 5) -> list[str]:
        """The n-grams (length ≥ 2) that pushed the text most towards `destination`."""
        column = self.classes.index(destination) + 1
        rows = self._rows(normalised)
        weights = self.table[rows, column]
        # numpy keeps the positive, long-enough rows and the `top` largest weights (with
        # any ties at the last one); Python sorts only those few, as it did all before
        keep = (weights > 0) & self._long_grams()[rows]
        rows, weights = rows[keep], weights[keep]
        if len(weights) > top:
            kth = np.partition(weights, len(weights) - top)[len(weights) - top]
            keep = weights >= kth
            rows, weights = rows[keep], weights[keep]
        names = self.names
        best = sorted(zip(weights.tolist(), [names[i] for i in rows.tolist()], strict=True),
                      reverse=True)
        return [g for _, g in best[:top]]

    def _long_grams(self) -> npt.NDArray[np.bool_]:
        """Per row, whether its n-gram has two characters or more (evidence shows no
        single characters): made on the first model decision."""
        if self._long is None:
            long = np.fromiter((len(n) >= 2 for n in self.names), dtype=bool,
                               count=len(self.names))
            object.__setattr__(self, "_long", long)  # a cache, as `_automaton`
        assert self._long is not None
        return self._long

    def warm(self) -> None:
        """Build the automaton now (~0.3 s), not on the first alert."""
        if self._automaton is None:
            self._build()
        self._long_grams()

    def _ngram_table(self) -> NgramTable:
        """The batch lookup table, built on the first batch (~0.2 s, ~8 MB): a process
        that routes one alert at a time never needs it."""
        if self._table is None:
            object.__setattr__(self, "_table", NgramTable(self.names))  # a cache, as above
        assert self._table is not None
        return self._table

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
        try:
            raw = np.frombuffer(base64.b64decode(weights, validate=True), dtype="<f4")
        except (binascii.Error, ValueError) as exc:
            raise ValueError(f"text model: `weights`: {exc}") from None
        if raw.size != width * len(grams):
            raise ValueError(f"text model: {raw.size} weights for {len(grams)} n-grams "
                             f"of {width}")
        for gram in grams:
            if not isinstance(gram, str) or not 1 <= len(gram) <= MAX_N:
                raise ValueError(f"text model: bad n-gram {gram!r}")
        return cls(
            classes=tuple(Destination(str(c)) for c in classes),
            intercepts=tuple(float(x) for x in intercepts),
            names=tuple(grams),
            table=raw.astype(np.float64).reshape(len(grams), width),
        )

    @staticmethod
    def encode(rows: list[list[float]]) -> str:
        """`weights` for the file: the rows (idf², idf·w…) as base64 little-endian float32."""
        return base64.b64encode(np.asarray(rows, dtype="<f4").tobytes()).decode("ascii")

    @classmethod
    def load(cls, path: Path | None = None) -> TextModel:
        with (path or TEXT_MODEL_FILE).open(encoding="utf-8") as fh:
            data = json.load(fh)
        if not isinstance(data, dict):
            raise ValueError("text model: not a JSON object")
        return cls.from_dict(data)


__all__ = ["TEXT_MODEL_FILE", "TextModel"]
