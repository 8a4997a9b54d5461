"""One-click transfer to 12345 through the orchestrator (real bus + Redis)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis

from bus.publisher import Publisher
from contracts import make_event, utcnow
from contracts.call import CallTransfer
from gateway.calls.transfer import TransferOrchestrator
from gateway.settings import Settings

from .support import CALL_ID, OPERATOR, ScriptedPort, bridged_call, refusal

Probe = Callable[..., Awaitable[Any]]


def command(request_id: str, operator: str | None = OPERATOR) -> CallTransfer:
    return CallTransfer(request_id=request_id, call_id=CALL_ID, incident_id="hl-9",
                        operator_channel=operator, state="requested", occurred_at=utcnow())


async def test_transfer_blind_transfers_the_operator_leg_to_the_hotline_once(
    call_settings: Settings, redis: Redis, publisher: Publisher, bus_probe: Probe
) -> None:
    probe = await bus_probe("call.transfer.#")
    port = ScriptedPort()
    orch = TransferOrchestrator(port=port, redis=redis, settings=call_settings,
                                emit=publisher.publish, instance="w1")
    cmd = command("01JTRF0000000000000000000A")
    await orch.handle_request(make_event(cmd, source="/tests"), cmd)
    await orch.handle_request(make_event(cmd, source="/tests"), cmd)  # redelivered: no 2nd time

    assert port.actions == [
        ("blind_transfer", {"channel": OPERATOR, "context": "hotline", "exten": "12345"})
    ]
    [(key, done)] = await probe.take_with_keys(1)
    assert key == "call.transfer.done" and done.data["target"] == "12345"
    await probe.assert_nothing(0.2)


async def test_transfer_finds_the_operator_and_reports_a_refusal(
    call_settings: Settings, redis: Redis, publisher: Publisher, bus_probe: Probe
) -> None:
    probe = await bus_probe("call.transfer.#")
    port = ScriptedPort(live=bridged_call(),
                        transfer_error=refusal("BlindTransfer", "Channel specified does not exist"))
    orch = TransferOrchestrator(port=port, redis=redis, settings=call_settings,
                                emit=publisher.publish, instance="w1")
    cmd = command("01JTRF0000000000000000000B", operator=None)
    await orch.handle_request(make_event(cmd, source="/tests"), cmd)

    assert port.actions[-1][1]["channel"] == OPERATOR
    [(key, failed)] = await probe.take_with_keys(1)
    assert key == "call.transfer.failed"
    assert failed.data["reason"] == "refused: Channel specified does not exist"
