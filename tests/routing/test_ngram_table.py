"""`NgramTable`: the batch lookup behind `TextModel.logits_many`."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.routing.ngram_table import NgramTable, gram_key

GRAMS = ["救", "救命", "路灯", "路灯坏", "灯", "a", "ab", "abc"]


def _pairs(table: NgramTable, texts: list[str]) -> list[tuple[int, int]]:
    owner, row = table.occurrences(texts)
    return list(zip(owner.tolist(), row.tolist(), strict=True))


def test_each_text_gets_its_own_distinct_known_ngrams_in_order() -> None:
    table = NgramTable(GRAMS)
    assert _pairs(table, ["路灯坏了", "", "救命救命", "xyz", "ab"]) == [
        (0, 2), (0, 3), (0, 4),  # 路灯, 路灯坏, 灯
        (2, 0), (2, 1),          # 救, 救命: once each however often they occur
        (4, 5), (4, 6),          # a, ab
    ]


def test_no_ngram_spans_two_texts() -> None:
    table = NgramTable(GRAMS)
    assert _pairs(table, ["路", "灯坏"]) == [(1, 4)]  # 灯 alone: 路灯 crosses the join
    assert _pairs(table, ["a", "bc"]) == [(0, 5)]


def test_unknown_keys_are_minus_one() -> None:
    table = NgramTable(GRAMS)
    keys = np.array([gram_key(g) for g in ["救命", "命", "abc", "abd"]], dtype=np.int64)
    assert table.rows(keys).tolist() == [1, -1, 7, -1]


@pytest.mark.parametrize(("grams", "complaint"), [
    (["救", "救"], "distinct"),
    (["救命啊啊"], "1 to 3"),
    ([""], "1 to 3"),
])
def test_bad_ngrams_are_refused(grams: list[str], complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        NgramTable(grams)


@given(st.lists(st.text(alphabet="救命路灯坏ab\x00", max_size=12), max_size=6))
def test_it_finds_exactly_what_slicing_finds(texts: list[str]) -> None:
    table = NgramTable(GRAMS)
    index = {g: i for i, g in enumerate(GRAMS)}
    want = sorted({(t, index[s[i:i + n]]) for t, s in enumerate(texts)
                   for n in (1, 2, 3) for i in range(len(s) - n + 1) if s[i:i + n] in index})
    assert _pairs(table, texts) == want


def test_code_point_zero_makes_no_key_of_a_shorter_ngram() -> None:
    """"\\x00a" is no "a": each n-gram occurrence is counted once, as itself."""
    table = NgramTable(GRAMS)
    owner, row = table.matches(["\x00a", "\x00\x00ab"])
    assert sorted(zip(owner.tolist(), row.tolist(), strict=True)) == [
        (0, 5), (1, 5), (1, 6)]  # a; a, ab
    assert gram_key("\x00a") != gram_key("a")
