"""Pure helpers: dial strings, dial order, masking, finding the caller's and operator's legs."""

from __future__ import annotations

from dataclasses import replace

from gateway.calls.legs import pick_legs
from gateway.calls.numbers import dial_order, dial_string, mask_phone, national
from gateway.settings import Settings

from .support import CALL_ID, CALLER, OPERATOR, bridged_call


def test_dial_strings_follow_the_template_unless_overridden(settings: Settings) -> None:
    s = settings.model_copy(update={"dial_overrides": {"+865782000119": "PJSIP/unit-ls-fire"}})
    assert national("+8613800138000") == "13800138000"
    assert national("+865782000037") == "05782000037"
    assert dial_string("+865782000037", s) == "PJSIP/05782000037@trunk"
    assert dial_string("+865782000119", s) == "PJSIP/unit-ls-fire"


def test_dial_order_requested_first_no_number_twice() -> None:
    assert dial_order(["+1", "+2"], ["+3", "+1"], first="+2") == ["+2", "+1", "+3"]
    assert dial_order([], ["+3"]) == ["+3"]


def test_numbers_are_masked_for_logs() -> None:
    assert mask_phone("+8613800138000") == "+86138****8000"
    assert mask_phone("+8657812345001") == "+86578****5001"


def test_operator_is_the_bridge_peer_or_else_the_one_other_leg_of_the_call() -> None:
    live = bridged_call()
    assert pick_legs(live, CALL_ID) == (CALLER, OPERATOR)
    unbridged = [replace(c, bridge_id=None) for c in live]
    assert pick_legs(unbridged, CALL_ID) == (CALLER, OPERATOR)
    third = replace(live[1], channel="PJSIP/operator-00000099", uniqueid="x.1", bridge_id=None)
    assert pick_legs([*unbridged, third], CALL_ID) == (CALLER, None)  # ambiguous: ask
    assert pick_legs(live, "no-such-call") == (None, None)
