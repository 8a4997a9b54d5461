"""The telephony port: what the gateway asks of a PBX, independent of AMI.

The AMI adapter implements it; an ARI implementation could later sit beside it.
Orchestration (three-way calls, duty checks) in `gateway/` depends only on this.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol

OriginateResult = Literal[
    "answered", "busy", "no-answer", "congestion", "unavailable", "failed", "unknown"
]


@dataclass(frozen=True)
class OriginateOutcome:
    """How an outbound call ended up. `unknown` when the link dropped before we knew."""

    request_id: str
    result: OriginateResult
    channel: str | None = None          # real channel name when answered
    uniqueid: str | None = None         # the preset ChannelId
    cause: int | None = None            # Q.850 cause from the channel's Hangup
    cause_txt: str | None = None
    ring_seconds: float | None = None


@dataclass(frozen=True)
class ChannelInfo:
    """A live channel as the PBX reports it (CoreShowChannels)."""

    channel: str
    uniqueid: str
    linkedid: str
    state: str
    caller_number: str | None
    context: str | None
    exten: str | None
    bridge_id: str | None
    variables: Mapping[str, str] = field(default_factory=dict)


class TelephonyPort(Protocol):
    """Call actions the gateway needs. Every method has a timeout and raises on failure."""

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
        """Dial `endpoint` (e.g. `PJSIP/+8657...@trunk`) and, once answered, run
        `context,exten,1`. Returns when answered or failed. Never retried after a
        link loss: the result is then `unknown` and reconciled from the PBX's state."""
        ...

    async def redirect(
        self, *, channel: str, extra_channel: str | None, context: str, exten: str
    ) -> None:
        """Move one or two channels (dual Redirect) to `context,exten,1`. Not retried."""
        ...

    async def blind_transfer(self, *, channel: str, context: str, exten: str) -> None:
        """Blind-transfer the bridge peer of `channel` (the transferer) to `context,exten`."""
        ...

    async def hangup(self, *, channel: str, cause: int = 16) -> None:
        """Hang up one channel."""
        ...

    async def channels(self) -> list[ChannelInfo]:
        """All live channels (for reconciliation after a reconnect)."""
        ...

    def events(self) -> AsyncIterator[Mapping[str, str]]:
        """Raw call events in PBX order (for orchestrators that follow a call)."""
        ...
