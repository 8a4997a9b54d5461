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
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path

FALLBACK_MODEL_FILE = Path(__file__).resolve().parent.parent / "rules" / "fallback_model.json"
MAX_N = 3


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

    def score(self, normalised: str) -> float:
        """Log-odds that the (normalised) text is a 12345 matter."""
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

    def is_hotline(self, normalised: str) -> bool:
        return bool(normalised) and self.score(normalised) >= self.threshold

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
