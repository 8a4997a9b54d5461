"""Pure text rules: the reply parser and the order SMS (no I/O, table-driven)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from adapters.sms.length import utf16_units
from contracts.order import Deadlines
from gateway.channels.compose import MAX_ORDER_UNITS, order_markdown, order_sms
from gateway.channels.replies import parse_reply
from tests.channels.conftest import make_order

KNOWN = {"K7QFA", "M3PAC"}


@pytest.mark.parametrize(
    ("text", "kind", "codes"),
    [
        ("1", "acknowledged", []),
        ("1 收到", "acknowledged", []),
        ("收到！", "acknowledged", []),
        ("２", "arrived", []),
        ("K7QFA已到", "arrived", ["K7QFA"]),
        ("2k7qfa", "arrived", ["K7QFA"]),
        ("已到达现场，两人受伤", "arrived", []),
        ("3 M3PAC", "completed", ["M3PAC"]),
        ("处置完毕", "completed", []),
        ("4", "reinforcement", []),
        ("请求增援 M3PAC", "reinforcement", ["M3PAC"]),
        ("移交 市公安局", "handed_over", []),
        ("未到达", None, []),
        ("还没到", None, []),
        ("无法完成", None, []),
        ("1234", None, []),  # a number, not the digit 1
        ("5", None, []),
        ("", None, []),
        ("好的", None, []),
    ],
)
def test_reply_parser(text: str, kind: str | None, codes: list[str]) -> None:
    parsed = parse_reply(text, KNOWN)
    assert (parsed.kind, parsed.codes) == (kind, codes)


def test_order_sms_local_deadline_and_reply_hint() -> None:
    issued = datetime(2026, 11, 23, 2, 15, tzinfo=UTC)  # 10:15 in Shanghai
    order = make_order("K7QFA").model_copy(
        update={
            "issued_at": issued,
            "deadlines": Deadlines(arrive_by=issued + timedelta(minutes=20)),
        }
    )
    text = order_sms(order)
    assert text.startswith("【应急联动·紧急】指令K7QFA:")
    assert "10:35前到场" in text and "地点:丽水市莲都区沿江路88号" in text and "1收到" in text
    late = order.model_copy(
        update={"deadlines": Deadlines(arrive_by=issued + timedelta(hours=20)), "emergency": False}
    )
    assert "11月24日06:15前到场" in order_sms(late) and "紧急" not in order_sms(late)
    assert "应急联动指令 K7QFA" in order_markdown(order, "市消防救援支队")


@pytest.mark.parametrize("filler", ["火", "🔥", "a"])
def test_order_sms_fits_320_units_whatever_the_instructions(filler: str) -> None:
    order = make_order(instructions=filler * 1000)
    text = order_sms(order)
    assert utf16_units(text) <= MAX_ORDER_UNITS
    assert "K7QFA" in text and "回复" in text and text.count("…") == 1
