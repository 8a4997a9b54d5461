"""Sea-centre hand-overs: what the centre gets, its status back, its direct reports."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
import respx

from bus.consumer import ConsumerRunner
from bus.publisher import Publisher
from contracts.alert import Alert, Location
from contracts.common import utcnow
from gateway.exchanges.sea import handover_id, persons_in_water, vessel_kind
from tests.exchanges.conftest import MSA, OFC, signed_post
from tests.exchanges.test_hotline import routed

Probe = Callable[..., Awaitable[Any]]


@pytest.mark.parametrize(
    ("text", "kind", "persons"),
    [
        ("一艘货轮在虾峙门附近触礁,3人落水", "merchant", 3),
        ("渔船翻沉,两名船员落水", "fishing", 2),
        ("网箱养殖区被台风冲毁", "fish-farm", None),
        ("客渡船失去动力漂流", "passenger", None),
        ("有人落水", "unknown", None),
    ],
)
def test_what_is_read_from_the_text(text: str, kind: str, persons: int | None) -> None:
    assert vessel_kind(text) == kind
    assert persons_in_water(text) == persons


async def test_handover_to_maritime_sar_and_status_back(
    exchange_runner: ConsumerRunner, publisher: Publisher, bus_probe: Probe,
    pclient: httpx.AsyncClient,
) -> None:
    probe = await bus_probe("sea.#")
    alert = Alert(
        channel="call", received_at=utcnow(), caller="13957800555",
        text="一艘货轮在虾峙门附近触礁,3人落水",
        location=Location(lat=29.75, lon=122.25, at_sea=True),
    )
    event = routed("maritime-sar", alert=alert)
    hid = handover_id(alert.alert_id, "maritime-sar")
    with respx.mock() as mock:
        route = mock.post(f"{MSA}handovers").respond(202, json={"accepted": True})
        await publisher.publish(event)
        [(key, out)] = await probe.take_with_keys(1)
    assert key == "sea.handover.handed_over"
    assert out.data["handover_id"] == hid and out.subject == alert.incident_id
    sent = json.loads(route.calls[0].request.content)
    assert route.calls[0].request.headers["Idempotency-Key"] == hid
    assert sent["alert"]["text"] == alert.text
    assert sent["alert"]["location"] == {"lat": 29.75, "lon": 122.25, "at_sea": True}
    assert (sent["vessel_kind"], sent["persons_in_water"]) == ("merchant", 3)
    assert sent["callback_number"] == "+8613957800555"
    assert sent["incident_id"] == alert.incident_id
    assert sent["status_url"].endswith(f"/v1/sea/handovers/{hid}/status")

    path = f"/v1/sea/handovers/{hid}/status"
    r = await signed_post(pclient, path, {"status": "accepted"}, platform="ocean-fishery")
    assert (r.status_code, r.json()["detail"]) == (403, "not-your-handover")
    r = await signed_post(
        pclient, path, {"status": "responding", "note": "海巡 0701 出动", "persons_in_water": 2},
        platform="maritime-sar",
    )
    assert r.status_code == 200 and r.json()["changed"] is True
    r = await signed_post(pclient, path, {"status": "responding"}, platform="maritime-sar")
    assert r.json()["changed"] is False
    r = await signed_post(pclient, path, {"status": "accepted"}, platform="maritime-sar")
    assert (r.status_code, r.json()["detail"]) == (409, "handover-already-responding")
    r = await signed_post(pclient, path, {"status": "resolved"}, platform="maritime-sar")
    assert r.status_code == 200
    keys = [(k, e.data.get("persons_in_water")) for k, e in await probe.take_with_keys(2)]
    assert keys == [("sea.handover.responding", 2), ("sea.handover.resolved", 2)]
    await probe.assert_nothing(within=0.3)


async def test_direct_report_informs_the_command_centre_and_is_not_handed_back(
    exchange_runner: ConsumerRunner, publisher: Publisher, bus_probe: Probe,
    pclient: httpx.AsyncClient,
) -> None:
    probe = await bus_probe("sea.#", "alert.received.#")
    report = {
        "report_id": "OFC-2026-1123-07", "text": "浙岱渔 03128 渔船在东极岛以东进水,船上 6 人",
        "lat": 30.2, "lon": 122.9, "vessel_name": "浙岱渔03128", "reported_by": "值班员王",
    }
    r = await signed_post(pclient, "/v1/sea/reports", report, platform="ocean-fishery")
    assert r.status_code == 201, r.text
    got = dict(await probe.take_with_keys(2))
    ho = got["sea.handover.reported_direct"]
    assert ho.data["centre"] == "ocean-fishery" and ho.data["vessel_kind"] == "fishing"
    alert = got["alert.received.api"]
    assert alert.data["location"]["at_sea"] is True and alert.data["reporter"] == "ocean-fishery"
    r = await signed_post(pclient, "/v1/sea/reports", report, platform="ocean-fishery")
    assert r.status_code == 200 and r.json()["duplicate"] is True
    await probe.assert_nothing(within=0.3)
    # routing sends the alert to ocean-fishery: it already knows, nothing is posted
    with respx.mock(assert_all_called=False) as mock:
        route = mock.post(f"{OFC}handovers").respond(202)
        await publisher.publish(routed("ocean-fishery", alert=Alert.model_validate(alert.data)))
        await probe.assert_nothing(within=0.5)
    assert route.call_count == 0
