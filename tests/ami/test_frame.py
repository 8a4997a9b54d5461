"""The frame parser against every real capture, byte splits, and random frames."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.ami.frame import (
    Frame,
    FrameError,
    FrameParser,
    encode_action,
    encode_headers,
    parse_version,
)
from adapters.ami.transcript import read_transcript

from .captures import FRAME_COUNTS, capture_path


@pytest.mark.parametrize("name", sorted(FRAME_COUNTS))
def test_every_capture_parses_exactly(name: str) -> None:
    transcript = read_transcript(capture_path(name))
    data = transcript.received()
    parser = FrameParser()
    frames = parser.feed(data)
    assert len(frames) == FRAME_COUNTS[name]
    assert parser.buffered == 0
    assert frames[0].kind == "banner"
    assert parse_version(frames[0].name) == "12.0.0"
    assert not any(f.malformed for f in frames)
    assert all(f.kind in ("response", "event") for f in frames[1:])
    # headers round-trip byte for byte, record by record
    assert [f.to_bytes() for f in frames] == [
        r.payload for r in transcript.records if r.direction == "recv"
    ]


def test_split_at_every_byte_boundary() -> None:
    data = read_transcript(capture_path("01")).received()
    expected = FrameParser().feed(data)
    for cut in range(len(data) + 1):
        parser = FrameParser()
        got = parser.feed(data[:cut]) + parser.feed(data[cut:])
        assert got == expected, cut
    # and one byte at a time
    parser = FrameParser()
    got = [f for i in range(len(data)) for f in parser.feed(data[i : i + 1])]
    assert got == expected


def test_classification_and_repeated_keys() -> None:
    frames = FrameParser().feed(read_transcript(capture_path("03")).received())
    orig = next(f for f in frames if f.name == "OriginateResponse")
    assert orig.kind == "event"  # an event that also carries Response:
    assert orig["Response"] == "Success"
    assert orig.variables() == {"INCIDENT_ID": "inc-105", "ORDER_ID": "ord-inc-105-1"}
    newchan = next(f for f in frames if f.name == "Newchannel")
    assert newchan.get_all("ChanVariable") == ["INCIDENT_ID=", "ORDER_ID="]
    assert newchan["AccountCode"] == ""  # `AccountCode: ` is an empty value
    resp = next(f for f in frames if f.kind == "response")
    assert resp.headers[1][0] == "ActionID"


def test_command_output_is_one_header_per_line() -> None:
    frames = FrameParser().feed(read_transcript(capture_path("08")).received())
    out = next(f for f in frames if f.get("Message") == "Command output follows")
    assert len(out.get_all("Output")) >= 2


def test_bad_banner_and_runaway_frame_are_refused() -> None:
    with pytest.raises(FrameError):
        FrameParser().feed(b"SSH-2.0-OpenSSH\r\n")
    parser = FrameParser(expect_banner=False, max_frame_bytes=100)
    with pytest.raises(FrameError):
        parser.feed(b"Event: X\r\n" + b"A: b\r\n" * 50)


def test_line_without_colon_marks_frame_malformed() -> None:
    frames = FrameParser(expect_banner=False).feed(b"Event: X\r\ngarbage\r\n\r\n")
    assert frames[0].malformed


def test_encode_action_refuses_header_injection() -> None:
    assert encode_action("Ping", "a1") == b"Action: Ping\r\nActionID: a1\r\n\r\n"
    assert encode_action("Originate", "x", {"Variable": ["A=1", "B=2"]}).count(b"Variable") == 2
    with pytest.raises(FrameError):
        encode_action("Originate", "x", {"CallerID": "evil\r\nAction: Hangup"})
    with pytest.raises(FrameError):
        encode_action("Ping", "x", {"ActionID": "y"})


_key = st.from_regex(r"\A[A-Za-z][A-Za-z0-9_()/.-]{0,20}\Z")
_value = st.text(
    alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\r\n"),
    max_size=40,
)
_frame = st.builds(
    lambda first, rest: [first, *rest],
    st.tuples(st.sampled_from(["Event", "Response"]), _value.filter(bool)),
    st.lists(st.tuples(_key, _value), max_size=12),
)


@settings(max_examples=100, deadline=None)
@given(st.lists(_frame, min_size=1, max_size=8), st.lists(st.integers(1, 64), max_size=40))
def test_random_frames_roundtrip_through_random_chunks(
    frames: list[list[tuple[str, str]]], cuts: list[int]
) -> None:
    wire = b"Asterisk Call Manager/12.0.0\r\n" + b"".join(encode_headers(h) for h in frames)
    parser = FrameParser()
    got: list[Frame] = []
    pos = 0
    for size in cuts:
        got += parser.feed(wire[pos : pos + size])
        pos += size
    got += parser.feed(wire[pos:])
    assert got[0].kind == "banner"
    assert [f.headers for f in got[1:]] == frames
