"""Headless Chromium loads /board from a real uvicorn, with events from the real bus."""

from __future__ import annotations

import shutil
import struct
from datetime import timedelta
from pathlib import Path

import pytest

from bus.publisher import Publisher
from tests.ops.cdp import Chromium
from tests.ops.conftest import (
    BOARD_KEY,
    LiveServer,
    alert_event,
    breach_event,
    order_event,
    routed_event,
    wait_feed_up,
    wait_for,
)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None,
        reason="Debian package `chromium` not installed (apt-get install chromium)",
    ),
]


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


async def test_board_renders_in_headless_chromium(
    live_server: LiveServer, publisher: Publisher, tmp_path: Path
) -> None:
    await wait_feed_up(live_server.app)
    hub = live_server.app.state.board

    fire, fire_received = alert_event("定海区东港路口一辆轿车起火，有人被困", channel="call")
    leak, leak_received = alert_event("小区门口路灯坏了好几天，请尽快修理", channel="wechat")
    boat, boat_received = alert_event("渔船在东极岛附近进水，船上5人", channel="sms")
    for event in (fire_received, leak_received, boat_received):
        await publisher.publish(event)
    await publisher.publish(routed_event(fire, "command-centre"))
    await publisher.publish(routed_event(leak, "12345", "municipal-defect", "streetlight"))
    await publisher.publish(
        routed_event(boat, "ocean-fishery", "vessel-distress", "fishing-vessel-flooding")
    )
    _, soon_issued = order_event("A3F9", "fire-dinghai", arrive_in=timedelta(minutes=3))
    late, late_issued = order_event("B7K2", "police-dinghai", arrive_in=timedelta(minutes=-1))
    _, calm_issued = order_event("C5M8", "water-utility", arrive_in=timedelta(minutes=25))
    for event in (soon_issued, late_issued, calm_issued, breach_event(late)):
        await publisher.publish(event)
    await wait_for(lambda: len(hub.alerts) == 3 and len(hub.breaches) == 1 and len(hub.orders) == 3)

    url = f"{live_server.base_url}/board?key={BOARD_KEY}"
    assert CHROMIUM is not None
    async with Chromium(CHROMIUM, tmp_path / "profile") as browser:
        await browser.goto(url)
        # the SSE stream connected: the feed pill is live and the snapshot rendered
        await browser.wait_until("document.querySelector('#feed.pill-up')")
        await browser.wait_until(f"document.querySelector('[data-alert-id=\"{fire.alert_id}\"]')")

        # an alert published on the bus *after* the page loaded appears by SSE
        late_alert, late_received = alert_event("码头仓库冒出浓烟，疑似起火", channel="sms")
        await publisher.publish(late_received)
        await publisher.publish(routed_event(late_alert, "command-centre"))
        selector = f'[data-alert-id="{late_alert.alert_id}"] .badge.d-command-centre'
        await browser.wait_until(f"document.querySelector('{selector}')")
        await browser.wait_until("document.querySelector('#orders tr.order.amber')")
        await browser.wait_until("document.querySelector('#orders tr.order.red')")

        dom = await browser.evaluate("document.documentElement.outerHTML")
        shot = tmp_path / "board.png"
        data = await browser.screenshot(shot)

    assert "定海区东港路口一辆轿车起火" in dom and "码头仓库冒出浓烟" in dom
    assert "110 指挥中心 Command centre" in dom
    assert "12345 热线 Hotline" in dom
    assert "海洋与渔业 Ocean &amp; fishery" in dom
    assert 'data-order-id="ord-a3f9"' in dom and 'class="order amber"' in dom  # < 5 min
    assert 'class="order red"' in dom  # B7K2: past its deadline and breached
    assert "C5M8" in dom
    assert _png_size(data) == (1400, 900)
    assert len(data) > 20_000, "screenshot looks blank"
    print(f"board screenshot: {shot}")  # pytest -s shows where to look
