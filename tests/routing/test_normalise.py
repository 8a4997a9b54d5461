"""Normalisation: scripts and widths folded, idempotent, never raises."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from contracts import Script
from gateway.routing.normalise import detect_script, normalise


def test_traditional_to_simplified() -> None:
    assert normalise("路燈桿倒了壓住人") == "路灯杆倒了压住人"
    assert normalise("漁船進水了") == "渔船进水了"


def test_full_width_and_punctuation_folded() -> None:
    assert normalise("ＡＢＣ　１２３！") == "abc123"
    assert normalise("路灯  坏了，\u200b请修！") == "路灯坏了请修"


def test_script_detection() -> None:
    assert detect_script("路灯坏了") is Script.SIMPLIFIED
    assert detect_script("路燈壞了") is Script.TRADITIONAL
    assert detect_script("路燈坏了") is Script.MIXED
    assert detect_script("help") is Script.OTHER
    assert detect_script("有人") is Script.SIMPLIFIED


text_strategy = st.text(
    alphabet=st.one_of(
        st.characters(),
        st.sampled_from(list("路燈壞了漁船進水著火發燒頭髮後面乾淨　！，。ＡＢ１２")),
    ),
    max_size=80,
)


@settings(max_examples=400, deadline=None)
@given(text_strategy)
def test_normalise_is_idempotent_and_total(text: str) -> None:
    once = normalise(text)
    assert normalise(once) == once
    assert isinstance(detect_script(text), Script)


@settings(max_examples=200, deadline=None)
@given(text_strategy)
def test_normalised_text_has_no_spacing_or_traditional(text: str) -> None:
    once = normalise(text)
    assert not any(ch.isspace() for ch in once)
    assert detect_script(once) in (Script.SIMPLIFIED, Script.OTHER)


def test_fast_t2s_is_opencc_t2s_on_the_labelled_texts() -> None:
    import json
    from pathlib import Path

    import opencc

    from gateway.routing.normalise import to_simplified

    reference = opencc.OpenCC("t2s")
    data = Path(__file__).resolve().parent / "data"
    texts = [
        json.loads(line)["text"]
        for name in ("dev.jsonl", "heldout.jsonl")
        for line in (data / name).open(encoding="utf-8")
    ]
    differing = [t for t in texts if to_simplified(t) != reference.convert(t)]
    assert not differing, differing[:5]
