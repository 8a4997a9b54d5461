"""AMI events → CallEvent and inbound-call recognition, on the real captures."""

from __future__ import annotations

from adapters.ami.events import inbound_call, to_call_event
from adapters.ami.frame import Frame
from adapters.ami.transcript import read_transcript

from .captures import capture_path

NUMBERS = {"110", "12345", "12110"}
CONTEXTS = {"from-trunk"}


def _events(name: str) -> list[Frame]:
    return [f for f in read_transcript(capture_path(name)).recv_frames() if f.kind == "event"]


def test_inbound_110_call_lifecycle() -> None:
    mapped = [e for f in _events("02") if (e := to_call_event(f, CONTEXTS)) is not None]
    trunk = [e for e in mapped if e.channel.startswith("PJSIP/trunk")]
    operator = [e for e in mapped if e.channel.startswith("PJSIP/operator")]
    assert [e.state for e in trunk] == [
        "new", "up", "dial-begin", "dial-end", "bridge-enter", "bridge-leave", "hangup",
    ]
    assert [e.state for e in operator] == [
        "new", "ringing", "up", "bridge-enter", "bridge-leave", "hangup",
    ]
    hangup = trunk[-1]
    assert (hangup.cause, hangup.cause_txt) == (16, "Normal Clearing")
    assert hangup.incident_id and hangup.incident_id.startswith("inc-")
    assert trunk[0].called_number == "110" and trunk[0].caller_number == "13800138000"
    assert {e.linked_id for e in mapped} == {trunk[0].call_id}
    assert trunk[2].peer_channel == operator[0].channel
    assert trunk[0].occurred_at.tzinfo is not None


def test_exactly_one_inbound_call_in_02_and_twenty_in_the_burst() -> None:
    calls = [c for f in _events("02") if (c := inbound_call(f, numbers=NUMBERS, contexts=CONTEXTS))]
    assert len(calls) == 1
    assert (calls[0].caller, calls[0].called) == ("+8613800138000", "110")
    burst = [c for f in _events("11") if (c := inbound_call(f, numbers=NUMBERS, contexts=CONTEXTS))]
    assert len(burst) == 20 and len({c.linkedid for c in burst}) == 20
    # not an emergency number / not an inbound context: no alert
    assert not [c for f in _events("02") if inbound_call(f, numbers={"999"}, contexts=CONTEXTS)]
    assert not [c for f in _events("02") if inbound_call(f, numbers=NUMBERS, contexts={"x"})]


def test_originate_dial_events_are_keyed_by_the_dialled_channel() -> None:
    mapped = [e for f in _events("03") if (e := to_call_event(f)) is not None]
    dial = [e for e in mapped if e.state == "dial-begin" and e.call_id.startswith("gw-")]
    assert len(dial) == 1 and dial[0].channel.startswith("PJSIP/unit-answer-")
    busy = [e for f in _events("04") if (e := to_call_event(f)) and e.state == "hangup"]
    assert any(e.cause == 17 and e.order_id == "ord-inc-110-1" for e in busy)


def test_blind_transfer_event() -> None:
    mapped = [e for f in _events("07") if (e := to_call_event(f)) and e.state == "transfer"]
    assert len(mapped) == 1
    assert mapped[0].channel.startswith("PJSIP/operator")
    assert mapped[0].peer_channel and mapped[0].peer_channel.startswith("PJSIP/trunk")
    assert (mapped[0].context, mapped[0].called_number) == ("hotline", "12345")


def test_every_capture_maps_without_error() -> None:
    for name in ("02", "03", "04", "05", "06", "06b", "07", "08", "10", "11", "12", "12b"):
        for frame in _events(name):
            to_call_event(frame, CONTEXTS)
