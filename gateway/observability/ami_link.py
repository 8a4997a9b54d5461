"""The AMI link's state, shared with operators: a gauge and a Redis hash.

The `linkgate ami` process calls `record_ami_link` on every state change and at least every
few seconds (the hash expires, so a dead AMI process shows as "unknown", never as a link
that looks up). `linkgate status` and the board read it with `read_ami_link`.

Redis key `settings.key("ami", "link")`, a hash: state, version (Asterisk/AMI banner),
since (ISO time of the last state change), updated (ISO time of the last refresh).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import structlog
from redis.asyncio import Redis

from gateway.observability.metrics import AMI_LINK_STATE, AMI_LINK_UP
from gateway.settings import Settings

log = structlog.get_logger(__name__)

LINK_TTL_S = 60
_STATES = {"idle", "connecting", "connected", "backoff", "stopped"}


@dataclass
class AmiLink:
    """What the AMI process last reported; `state` is "unknown" when nothing is there."""

    state: str
    version: str = ""
    since: str = ""
    updated: str = ""


def ami_link_key(settings: Settings) -> str:
    return settings.key("ami", "link")


async def record_ami_link(
    redis: Redis,
    settings: Settings,
    state: str,
    version: str = "",
    since: datetime | None = None,
) -> None:
    """Set the gauges and refresh the hash (TTL 60 s: refresh it more often than that)."""
    if state in _STATES:
        AMI_LINK_STATE.state(state)
    AMI_LINK_UP.set(1 if state == "connected" else 0)
    now = datetime.now(UTC).isoformat()
    mapping: dict[str | bytes, str | bytes] = {
        "state": state,
        "version": version,
        "since": (since or datetime.now(UTC)).isoformat(),
        "updated": now,
    }
    key = ami_link_key(settings)
    async with redis.pipeline(transaction=True) as pipe:
        pipe.hset(key, mapping=mapping)  # type: ignore[arg-type]
        pipe.expire(key, LINK_TTL_S)
        await pipe.execute()


async def read_ami_link(redis: Redis, settings: Settings) -> AmiLink:
    """The last reported link state ("unknown" if the AMI process has not reported lately)."""
    raw = await redis.hgetall(ami_link_key(settings))
    if not raw:
        return AmiLink(state="unknown")
    data = {_text(k): _text(v) for k, v in raw.items()}
    return AmiLink(
        state=data.get("state", "unknown"),
        version=data.get("version", ""),
        since=data.get("since", ""),
        updated=data.get("updated", ""),
    )


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class _Client(Protocol):
    @property
    def state(self) -> str: ...
    @property
    def version(self) -> str | None: ...


class _AmiContext(Protocol):
    @property
    def settings(self) -> Settings: ...
    @property
    def redis(self) -> Redis: ...
    @property
    def client(self) -> _Client: ...


async def report_ami_link(ctx: _AmiContext, poll_s: float = 1.0, refresh_s: float = 10.0) -> None:
    """A task of the `linkgate ami` process (fits its `TASKS` list): report the link state.

    Polls the client's `state` each second, records at once on a change (gauge + hash) and
    refreshes every `refresh_s` so the hash never expires while the process lives.
    """
    last: str | None = None
    since = datetime.now(UTC)
    last_write = 0.0
    loop = asyncio.get_running_loop()
    while True:
        state = ctx.client.state
        if state != last:
            since = datetime.now(UTC)
        if state != last or loop.time() - last_write >= refresh_s:
            try:
                await record_ami_link(
                    ctx.redis, ctx.settings, state, version=ctx.client.version or "", since=since
                )
                last, last_write = state, loop.time()
            except Exception as exc:  # Redis down: the gauge is set; retry next poll
                log.error("ami_link.report_failed", error=repr(exc))
        await asyncio.sleep(poll_s)
