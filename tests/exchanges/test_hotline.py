"""12345 both ways, as the platform (respx) and a bus peer see it."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import respx

from bus.consumer import ConsumerRunner
from bus.publisher import Publisher
from contracts.alert import Alert, RoutedAlert, RoutingDecision
from contracts.common import EventStatus, utcnow
from contracts.envelope import CloudEvent, make_event
from gateway.settings import Settings
from tests.exchanges.conftest import HOTLINE, dlq_messages, signed_post

Probe = Callable[..., Awaitable[Any]]


def routed(
    destination: str = "12345",
    text: str = "小区路灯坏了好几天,希望尽快修一下",
    alert: Alert | None = None,
    status: EventStatus = EventStatus.ACTUAL,
) -> CloudEvent:
    alert = alert or Alert(channel="sms", received_at=utcnow(), caller="13957800777", text=text)
    decision = RoutingDecision(
        destination=destination, category="municipal-defect", rule="r-streetlight",
        emergency=False,
    )
    return make_event(
        RoutedAlert(alert=alert, decision=decision), source="/tests", subject=alert.incident_id,
        status=status,
    )


async def test_routed_alert_becomes_ticket_transfer_once(
    exchange_runner: ConsumerRunner, publisher: Publisher, bus_probe: Probe,
    pclient: httpx.AsyncClient,
) -> None:
    probe = await bus_probe("ticket.#")
    event = routed()
    with respx.mock(assert_all_called=False) as mock:
        route = mock.post(f"{HOTLINE}tickets").respond(201, json={"ticket_id": "GD-777"})
        await publisher.publish(event)
        [(key, out)] = await probe.take_with_keys(1)
        # the same alert routed again (a re-classification, a replay): no second ticket
        again = make_event(RoutedAlert.model_validate(event.data), source="/tests")
        await publisher.publish(again)
        await probe.assert_nothing(within=0.5)
    assert key == "ticket.transfer.outbound"
    assert out.data["ticket_id"] == "GD-777" and out.data["status"] == "created"
    assert out.subject == event.subject
    assert route.call_count == 1
    request = route.calls[0].request
    alert_id = event.data["alert"]["alert_id"]
    assert request.headers["Idempotency-Key"] == alert_id
    sent = json.loads(request.content)
    assert sent["text"] == "小区路灯坏了好几天,希望尽快修一下"
    assert sent["callback_number"] == "+8613957800777" and sent["drill"] is False

    # the platform reports progress; a repeat is a no-op, going back is refused
    path = "/v1/tickets/GD-777/status"
    r = await signed_post(pclient, path, {"status": "accepted", "handler": "市政工单科"})
    assert r.json() == {"ticket_id": "GD-777", "status": "accepted", "changed": True}
    r = await signed_post(pclient, path, {"status": "accepted"})
    assert r.json()["changed"] is False
    r = await signed_post(pclient, path, {"status": "closed"})
    assert (r.status_code, r.json()["detail"]) == (422, "result-required")
    r = await signed_post(pclient, path, {"status": "closed", "result": "已派人维修,路灯恢复"})
    assert r.status_code == 200
    r = await signed_post(pclient, path, {"status": "in_progress"})
    assert (r.status_code, r.json()["detail"]) == (409, "ticket-already-closed")
    r = await signed_post(pclient, "/v1/tickets/NOPE/status", {"status": "accepted"})
    assert (r.status_code, r.json()["detail"]) == (404, "ticket-not-found")
    updates = await probe.take(2)
    assert [(e.data["status"], e.data.get("result")) for e in updates] == [
        ("accepted", None), ("closed", "已派人维修,路灯恢复"),
    ]
    await probe.assert_nothing(within=0.3)


async def test_platform_outage_is_retried_then_transferred(
    exchange_runner: ConsumerRunner, publisher: Publisher, bus_probe: Probe
) -> None:
    probe = await bus_probe("ticket.#")
    with respx.mock() as mock:
        route = mock.post(f"{HOTLINE}tickets").mock(
            side_effect=[httpx.Response(503), httpx.Response(503),
                         httpx.Response(201, json={"ticket_id": "GD-9"})]
        )
        await publisher.publish(routed())
        [out] = await probe.take(1, timeout=8)
    assert out.data["ticket_id"] == "GD-9"
    keys = {c.request.headers["Idempotency-Key"] for c in route.calls}
    assert len(keys) == 1  # every retry carries the same key


async def test_platform_refusal_goes_to_dlq_with_reason(
    exchange_runner: ConsumerRunner, publisher: Publisher, xsettings: Settings, bus_probe: Probe
) -> None:
    probe = await bus_probe("ticket.#")
    with respx.mock() as mock:
        mock.post(f"{HOTLINE}tickets").respond(400, json={"error": "missing category"})
        event = routed()
        await publisher.publish(event)
        [dead] = await dlq_messages(xsettings, "exchanges.hotline", 1)
    assert dead.headers["x-death-reason"] == "12345-rejected-400"
    await probe.assert_nothing(within=0.2)


async def test_inbound_emergency_becomes_alert_idempotently_and_never_bounces(
    exchange_runner: ConsumerRunner, publisher: Publisher, pclient: httpx.AsyncClient,
    bus_probe: Probe, xsettings: Settings,
) -> None:
    probe = await bus_probe("alert.received.#", "ticket.#")
    ticket = {
        "ticket_id": "GD20261123-0042", "text": "来电称家中老人突然昏迷,呼吸困难",
        "caller": "13957800888", "address": "莲都区丽阳街 8 号", "category": "medical",
    }
    r = await signed_post(pclient, "/v1/tickets", ticket)
    assert r.status_code == 201
    ids = r.json()
    got = dict(await probe.take_with_keys(2))
    alert = got["alert.received.api"]
    assert alert.data["category"] == "emergency.from-12345.medical"
    assert alert.data["source_ref"] == "GD20261123-0042" and alert.data["called"] == "12345"
    assert alert.data["alert_id"] == ids["alert_id"]
    inbound = got["ticket.transfer.inbound"]
    assert inbound.data["status"] == "accepted" and inbound.subject == ids["incident_id"]
    r = await signed_post(pclient, "/v1/tickets", ticket)  # the platform retries
    assert r.status_code == 200 and r.json()["duplicate"] is True
    assert r.json()["incident_id"] == ids["incident_id"]
    await probe.assert_nothing(within=0.3)
    # were routing ever to send it back to 12345, it is held for a human, not bounced
    with respx.mock(assert_all_called=False) as mock:
        route = mock.post(f"{HOTLINE}tickets").respond(201, json={"ticket_id": "X"})
        await publisher.publish(routed(alert=Alert.model_validate(alert.data)))
        [dead] = await dlq_messages(xsettings, "exchanges.hotline", 1)
    assert dead.headers["x-death-reason"] == "ticket-bounce"
    assert route.call_count == 0


async def test_drill_ticket_marked(
    exchange_runner: ConsumerRunner, publisher: Publisher, bus_probe: Probe
) -> None:
    probe = await bus_probe("ticket.#")
    with respx.mock() as mock:
        route = mock.post(f"{HOTLINE}tickets").respond(201, json={"ticket_id": "GD-D1"})
        await publisher.publish(routed(status=EventStatus.EXERCISE))
        [out] = await probe.take(1)
    assert out.status == EventStatus.EXERCISE
    assert json.loads(route.calls[0].request.content)["drill"] is True


def test_inbound_category_makes_routing_send_it_to_the_command_centre() -> None:
    """Routing's own rules (gateway/rules/default.yaml) honour the hint even when the
    text alone reads like a 12345 matter."""
    from gateway.exchanges.hotline import _inbound_category
    from gateway.routing.reload import RulesHolder

    engine = RulesHolder(None).engine
    for given in (None, "gas", "x" * 64):
        alert = Alert(
            channel="api", received_at=utcnow(), text="小区路灯坏了", called="12345",
            category=_inbound_category(given),
        )
        assert engine.classify_alert(alert).destination == "command-centre"
