"""Helpers for call orchestration tests: a scripted telephony port and a small directory.

The scripted port stands in ONLY for the PBX (pure orchestration tests); RabbitMQ and
Redis are the real ones. End-to-end tests use the real AMI client against the fake
AMI server that replays the Asterisk captures.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from redis.asyncio import Redis

from adapters.ami.errors import AmiActionError
from adapters.ami.frame import Frame
from adapters.ami.port import ChannelInfo, OriginateOutcome, OriginateResult
from contracts.directory import Liaison, Unit
from gateway.settings import Settings

DUTY_1 = "+8657812345001"
DUTY_2 = "+8657812345002"
LIAISON = "+8613957800999"
CALLER = "PJSIP/trunk-00000045"
OPERATOR = "PJSIP/operator-00000046"
CALL_ID = "1795444221.103"
CAUSES: dict[str, int] = {"busy": 17, "no-answer": 19, "unavailable": 19, "congestion": 34}


@dataclass
class ScriptedPort:
    """A TelephonyPort whose outcomes are scripted per dial string; it logs every action."""

    outcomes: dict[str, list[OriginateResult]] = field(default_factory=dict)
    live: list[ChannelInfo] = field(default_factory=list)
    actions: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    redirect_error: Exception | None = None
    transfer_error: Exception | None = None
    gate: asyncio.Event | None = None
    in_flight: int = 0
    max_in_flight: int = 0

    async def originate(
        self,
        *,
        request_id: str,
        endpoint: str,
        context: str,
        exten: str,
        caller_id: str,
        timeout_s: float,
        variables: Mapping[str, str],
    ) -> OriginateOutcome:
        self.actions.append(
            ("originate", {"request_id": request_id, "endpoint": endpoint, "context": context,
                           "exten": exten, "timeout_s": timeout_s, "variables": dict(variables)})
        )
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.gate is not None:
                await self.gate.wait()
            else:
                await asyncio.sleep(0)
        finally:
            self.in_flight -= 1
        script = self.outcomes.get(endpoint) or ["answered"]
        result = script.pop(0) if len(script) > 1 else script[0]
        if result == "answered":
            return OriginateOutcome(
                request_id, "answered", channel=f"{endpoint}-0000abcd", uniqueid=request_id
            )
        return OriginateOutcome(request_id, result, channel=None, uniqueid=request_id,
                                cause=CAUSES.get(result))

    async def redirect(
        self, *, channel: str, extra_channel: str | None, context: str, exten: str
    ) -> None:
        self.actions.append(("redirect", {"channel": channel, "extra_channel": extra_channel,
                                          "context": context, "exten": exten}))
        if self.redirect_error is not None:
            raise self.redirect_error

    async def blind_transfer(self, *, channel: str, context: str, exten: str) -> None:
        self.actions.append(("blind_transfer", {"channel": channel, "context": context,
                                                "exten": exten}))
        if self.transfer_error is not None:
            raise self.transfer_error

    async def hangup(self, *, channel: str, cause: int = 16) -> None:
        self.actions.append(("hangup", {"channel": channel, "cause": cause}))

    async def channels(self) -> list[ChannelInfo]:
        self.actions.append(("channels", {}))
        return list(self.live)

    async def events(self) -> AsyncIterator[Mapping[str, str]]:  # pragma: no cover - unused
        if False:
            yield {}

    def names(self) -> list[str]:
        return [name for name, _ in self.actions if name != "channels"]

    def dialled(self) -> list[str]:
        return [args["endpoint"] for name, args in self.actions if name == "originate"]


def bridged_call() -> list[ChannelInfo]:
    """A 110 caller bridged to an operator, as CoreShowChannels reports it."""
    common: dict[str, Any] = {"linkedid": CALL_ID, "state": "Up", "bridge_id": "b-1"}
    return [
        ChannelInfo(CALLER, CALL_ID, caller_number="+8613800138000", context="from-trunk",
                    exten="110", **common),
        ChannelInfo(OPERATOR, "1795444221.104", caller_number="110", context="from-internal",
                    exten="", **common),
    ]


class Clock:
    """A clock tests move by hand."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # 10:00 Asia/Shanghai

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def make_unit(unit_id: str = "ls-fire", *, phones: tuple[str, ...] = (DUTY_1, DUTY_2),
              liaison: str | None = LIAISON, tier: int = 1) -> Unit:
    liaisons = [Liaison(name="王联络", mobile=liaison)] if liaison else []
    return Unit.model_validate({
        "id": unit_id, "name": "市消防救援支队", "tier": tier, "jurisdiction": "lishui",
        "duty_phones": list(phones), "liaisons": liaisons,
    })


async def evidence(redis: Redis, settings: Settings) -> list[dict[str, str]]:
    """The duty-line miss records, as the supervision reports read them."""
    entries = cast(list[tuple[bytes, dict[bytes, bytes]]],
                   await redis.xrange(settings.key("evidence")))
    return [{k.decode(): v.decode() for k, v in fields.items()} for _, fields in entries]


def refusal(action: str, message: str) -> AmiActionError:
    """What the AMI client raises when Asterisk answers `Response: Error`."""
    return AmiActionError(action, Frame([("Response", "Error"), ("Message", message)]))
