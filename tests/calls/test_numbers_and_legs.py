"""Pure helpers: dial strings, dial order, masking, finding the caller's and operator's legs."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from contracts.common import EventStatus
from gateway.calls.dutycheck import plan_batch
from gateway.calls.legs import pick_legs
from gateway.calls.numbers import dial_order, dial_string, mask_phone, national
from gateway.settings import Settings

from .support import CALL_ID, CALLER, OPERATOR, bridged_call, make_unit


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


@given(
    duty=st.lists(st.sampled_from(["+1", "+2", "+3", "+4"]), max_size=4),
    liaisons=st.lists(st.sampled_from(["+3", "+5", "+6"]), max_size=3),
    first=st.one_of(st.none(), st.sampled_from(["+2", "+7"])),
)
def test_dial_order_never_rings_a_phone_twice_and_keeps_priority(
    duty: list[str], liaisons: list[str], first: str | None
) -> None:
    order = dial_order(duty, liaisons, first=first)
    assert len(order) == len(set(order))
    assert set(order) == set(duty) | set(liaisons) | ({first} if first else set())
    if first:
        assert order[0] == first
    duty_only = [n for n in order if n in duty and n != first]
    assert duty_only == list(dict.fromkeys(n for n in duty if n != first))


@given(minutes=st.integers(0, 24 * 60), seed=st.integers(0, 2**32), n=st.integers(0, 30))
def test_every_planned_check_falls_inside_its_window(minutes: int, seed: int, n: int) -> None:
    start = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
    units = [make_unit(f"u{i}") for i in range(n)]
    plan = plan_batch(units, batch_id="b", start=start, window_minutes=minutes,
                      rng=random.Random(seed), status=EventStatus.ACTUAL)
    assert sorted(c.unit_id for c in plan) == sorted(u.id for u in units)
    assert all(start <= c.due_at <= start + timedelta(minutes=minutes) for c in plan)
    assert [c.due_at for c in plan] == sorted(c.due_at for c in plan)
