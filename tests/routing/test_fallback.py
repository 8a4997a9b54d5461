"""`FallbackModel`: a batch's estimates give exactly the answers each text gets alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.routing.fallback import FallbackModel
from gateway.routing.ngram_table import BATCH_CHARS
from gateway.routing.normalise import normalise

DATA = Path(__file__).resolve().parent / "data"
MODEL = FallbackModel.load()
EDGES = ["", "救", "救命", "\x00", "qqqq", "路灯坏了路灯坏了", "𠀀𠀁𠀂"]


def _texts(name: str) -> list[str]:
    with (DATA / f"{name}.jsonl").open(encoding="utf-8") as fh:
        return [normalise(json.loads(line)["text"]) for line in fh if line.strip()]


def test_estimates_are_the_score_summed_in_another_order() -> None:
    texts = _texts("extra_g") + _texts("holdout/blind34") + EDGES
    for text, estimate in zip(texts, MODEL.estimates_many(texts), strict=True):
        assert estimate == pytest.approx(MODEL.score(text), rel=1e-12, abs=1e-9), text
    assert MODEL.estimates_many([]) == []


def test_a_long_batch_is_estimated_in_parts_each_text_whole() -> None:
    texts = ["救命" * 40_000, "", "路灯坏了", "咨询医保怎么报销" * 3_000]
    assert sum(map(len, texts)) > BATCH_CHARS
    for text, estimate in zip(texts, MODEL.estimates_many(texts), strict=True):
        assert estimate == pytest.approx(MODEL.score(text), rel=1e-9)


def test_with_an_estimate_the_answer_is_exact_even_at_the_limit() -> None:
    """A limit right at a text's exact score (or one ulp off) is where the estimate's
    rounding could flip the answer: there `score_below` must compute the exact sum."""
    texts = _texts("blind10") + EDGES
    for text, estimate in zip(texts, MODEL.estimates_many(texts), strict=True):
        exact = MODEL.score(text)
        for limit in (exact, exact + 1e-15, exact - 1e-15, exact + 1.0, exact - 1.0):
            assert MODEL.score_below(text, limit, estimate) is (exact < limit), text
        assert MODEL.is_hotline(text, estimate) is MODEL.is_hotline(text)


@given(st.lists(st.text(alphabet="救命路灯坏了咨询有人落水ab\x00 ", max_size=30), max_size=8))
def test_batch_answers_are_the_single_answers(texts: list[str]) -> None:
    estimates = MODEL.estimates_many(texts)
    for text, estimate in zip(texts, estimates, strict=True):
        for limit in (MODEL.threshold, 8.0, MODEL.score(text)):
            assert MODEL.score_below(text, limit, estimate) is MODEL.score_below(text, limit)
