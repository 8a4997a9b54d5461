"""The statistical fallback: for an alert no rule placed, 12345 or the command centre?

A multinomial Naive Bayes over character 1–3-grams of the *normalised* text (so
traditional, full-width and noisy spacing are folded), trained on the labelled sets by
`gateway/routing/train_fallback.py` with the labels collapsed to emergency-ish
(command-centre, maritime-sar, ocean-fishery) vs 12345. It is consulted ONLY when the
rules found nothing (the decision would be the default), and it can only move such an
alert to 12345, when the model's log-odds for 12345 reach a threshold chosen so that no
emergency of any labelled file reaches 12345 (see the training script). It never touches
a decision a rule made.

The model file (`gateway/rules/fallback_model.json`) holds, per n-gram, the difference of
the two classes' log-likelihoods; a text's score is the prior log-odds plus the sum over
its n-grams (with multiplicity) of those weights; unseen n-grams weigh `unseen`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import repeat
from operator import itemgetter
from pathlib import Path

import ahocorasick
import numpy as np
import numpy.typing as npt

from gateway.routing.ngram_table import MAX_N, NgramTable, slices

FALLBACK_MODEL_FILE = Path(__file__).resolve().parent.parent / "rules" / "fallback_model.json"
_VALUE = itemgetter(1)
# 2**-50 = 8 units in the last place of 1.0: see `FallbackModel._beyond`
_ROUNDING = 2.0**-50


def ngrams(normalised: str) -> list[str]:
    """Character 1–3-grams of a normalised text, with multiplicity."""
    out: list[str] = []
    n = len(normalised)
    for size in range(1, MAX_N + 1):
        out.extend(normalised[i : i + size] for i in range(n - size + 1))
    return out


@dataclass(frozen=True, slots=True)
class FallbackModel:
    """Weights (log P(g | 12345) − log P(g | emergency)) and the decision threshold."""

    prior: float
    unseen: float
    threshold: float
    weights: dict[str, float]
    # built on first use (see `_beyond`): an automaton of the 1–3-grams → weight, and
    # the largest |weight| (unseen included); None while unbuilt, or when not finite
    _grams: tuple[ahocorasick.Automaton, float] | None = field(
        default=None, init=False, repr=False, compare=False
    )
    # built on the first batch (`estimates_many`): the n-grams' table and their weights
    _table: tuple[NgramTable, npt.NDArray[np.float64]] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def score(self, normalised: str) -> float:
        """Log-odds that the (normalised) text is a 12345 matter (the exact sum)."""
        get = self.weights.get
        t = normalised
        unseen = repeat(self.unseen)
        # 1-, 2- and 3-grams, summed in C (the veto scores every 12345 decision).
        return (
            self.prior
            + sum(map(get, t, unseen))
            + sum(map(get, map(str.__add__, t, t[1:]), unseen))
            + sum(map(get, map("".join, zip(t, t[1:], t[2:], strict=False)), unseen))
        )

    def estimates_many(self, normalised: Sequence[str]) -> list[float]:
        """Per text, the score summed in yet another order, for a whole batch at once
        (`NgramTable`: ~4x cheaper per text than an automaton pass from 64 texts on).
        Only an estimate, as `_beyond`'s is: hand it to `score_below`/`is_hotline`,
        which check its distance to the limit and answer exactly as alone."""
        out: list[float] = []
        table, weights = self._table if self._table is not None else self._build_table()
        for part in slices(normalised):
            texts = normalised[part]
            n = len(texts)
            lengths = np.fromiter(map(len, texts), dtype=np.float64, count=n)
            total = lengths + np.maximum(lengths - 1, 0) + np.maximum(lengths - 2, 0)
            owner, row = table.matches(texts)
            known = np.bincount(owner, weights=weights[row], minlength=n)
            counted = np.bincount(owner, minlength=n)
            out += (self.prior + known + self.unseen * (total - counted)).tolist()
        return out

    def _build_table(self) -> tuple[NgramTable, npt.NDArray[np.float64]]:
        grams = [g for g in self.weights if 1 <= len(g) <= MAX_N]
        weights = np.fromiter(map(self.weights.__getitem__, grams), dtype=np.float64,
                              count=len(grams))
        table = (NgramTable(grams), weights)
        object.__setattr__(self, "_table", table)  # a cache: the model stays immutable
        return table

    def score_below(self, normalised: str, limit: float, estimate: float | None = None) -> bool:
        """`score(normalised) < limit`, the same answer for every text, cheaper: the
        veto asks this of every 12345 decision, and almost every score is far from the
        limit. The sum is first taken over one Aho-Corasick pass (the known n-grams'
        weights, in C; ~3x faster than 3n dict look-ups of new strings), in another
        order than `score`'s, so the two floats may differ in the last bits; only when
        the estimate lies within a bound of that rounding error of the limit is the
        exact `score` computed. `estimate`: the text's from `estimates_many` (no pass)."""
        beyond = self._beyond(normalised, limit, estimate)
        return self.score(normalised) < limit if beyond is None else beyond < 0

    def is_hotline(self, normalised: str, estimate: float | None = None) -> bool:
        """Whether the fallback sends the text to 12345 (`estimate`: see `score_below`)."""
        return bool(normalised) and not self.score_below(normalised, self.threshold, estimate)

    def warm(self) -> None:
        """Build what `score_below` needs now (an engine does, when it is made), so
        that the first alert does not wait for it."""
        if self._grams is None:
            self._build_grams()

    def _beyond(self, t: str, limit: float, estimate: float | None = None) -> float | None:
        """The estimate minus `limit` when that sign is certainly the exact score's
        sign too, else None. Both sums add m ≤ 3n + 1 terms (prior included); each is
        within γ·Σ|x| of the real sum (γ = m·u/(1 − m·u), u = 2**-53: Higham's bound for
        any summation order; the one product adds one more u), Σ|x| ≤ |prior| + (m − 1)
        · the largest |weight|. The margin, (m + 2)·2**-50·(|prior| + m·max|w|), is
        over twice their distance for any text shorter than 10**14 characters."""
        grams = self._grams
        if grams is None:
            grams = self._build_grams()
        automaton, largest = grams
        if not math.isfinite(largest):
            return None
        n = len(t)
        total = n + max(n - 1, 0) + max(n - 2, 0)
        if estimate is None:  # one automaton pass (a batch brings its own estimates)
            known = list(map(_VALUE, automaton.iter(t))) if n else []
            estimate = self.prior + sum(known) + self.unseen * (total - len(known))
        margin = (total + 3) * _ROUNDING * (abs(self.prior) + (total + 1) * largest)
        diff = estimate - limit
        return diff if abs(diff) > margin else None

    def _build_grams(self) -> tuple[ahocorasick.Automaton, float]:
        """The automaton for `_beyond` (~60 ms and ~4 MB for the shipped model's 84k
        n-grams): built on a model's first veto/fallback question, so the models the
        training script makes only to score do not pay for it. Only 1–3-grams: `score`
        never looks up a longer key."""
        automaton = ahocorasick.Automaton()
        largest = abs(self.unseen)
        for gram, weight in self.weights.items():
            if 1 <= len(gram) <= MAX_N:
                automaton.add_word(gram, weight)
                largest = max(largest, abs(weight))
        if automaton.get_stats()["words_count"]:
            automaton.make_automaton()
        else:  # an automaton with no words cannot be searched: always the exact score
            largest = math.inf
        grams = (automaton, largest if math.isfinite(self.prior) else math.inf)
        object.__setattr__(self, "_grams", grams)  # a cache: the model stays immutable
        return grams

    def evidence(self, normalised: str, top: int = 5) -> list[str]:
        """The n-grams (length ≥ 2) that pushed the text most towards 12345."""
        seen: dict[str, float] = {}
        for g in ngrams(normalised):
            if len(g) >= 2 and g in self.weights:
                seen[g] = self.weights[g]
        best = sorted(((v, g) for g, v in seen.items() if v > 0), reverse=True)
        return [g for _, g in best[:top]]

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> FallbackModel:
        weights = data["weights"]
        if not isinstance(weights, dict):
            raise ValueError("fallback model: `weights` must be a mapping")
        return cls(
            prior=float(str(data["prior"])),
            unseen=float(str(data["unseen"])),
            threshold=float(str(data["threshold"])),
            weights={str(k): float(v) for k, v in weights.items()},
        )

    @classmethod
    def load(cls, path: Path | None = None) -> FallbackModel:
        with (path or FALLBACK_MODEL_FILE).open(encoding="utf-8") as fh:
            data = json.load(fh)
        if not isinstance(data, dict):
            raise ValueError("fallback model: not a JSON object")
        return cls.from_dict(data)


__all__ = ["FALLBACK_MODEL_FILE", "FallbackModel", "ngrams"]
