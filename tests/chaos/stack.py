"""The real gateway wired end to end for a chaos test: API app → bus → router → centres.

Alerts enter as a citizen's SMS through the API's Twilio webhook, signed with twilio's
own `RequestValidator`, when the app has that route; until then (the webhook is being
built by a colleague) through the app's own spool exactly as a webhook hands them over
(`Spool.publish_or_spool` with the webhook's event id `twilio-sms-<MessageSid>`).
The centres are a local `Receiver` counting POSTs by `Idempotency-Key`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from redis.asyncio import Redis
from twilio.request_validator import RequestValidator

from contracts import Alert, make_event, utcnow
from contracts.common import Channel, Destination
from gateway.routing.pipeline import Router, routed_event_id
from gateway.routing.reload import RulesHolder
from gateway.settings import Settings, load_settings
from tests.chaos.services import Receiver

AUTH_TOKEN = "chaos-twilio-auth-token-0123456789"
PUBLIC_BASE = "https://gateway.example.cn"

# text → its destination (besides the command centre, which gets every routed alert)
TEXTS: list[tuple[str, str]] = [
    ("楼下着火了，有人被困", "command-centre"),
    ("咨询一下社保卡补办需要什么材料", "12345"),
    ("海上有船舶碰撞，货轮沉没", "maritime-sar"),
    ("我们的渔船发动机故障在海上漂流", "ocean-fishery"),
]


def sid(i: int, run: str = "") -> str:
    return f"SM{run}{i:032x}"[:34]


def received_id(message_sid: str) -> str:
    return f"twilio-sms-{message_sid}"


def destination_urls(receiver: Receiver) -> dict[str, str]:
    return {
        "command_centre_url": receiver.base_url("command-centre"),
        "hotline_url": receiver.base_url("12345"),
        "maritime_sar_url": receiver.base_url("maritime-sar"),
        "ocean_fishery_url": receiver.base_url("ocean-fishery"),
    }


def expected_deliveries(indices: Iterable[int], run: str = "") -> set[tuple[str, str]]:
    """(destination, Idempotency-Key) of every delivery the centres must see once."""
    out: set[tuple[str, str]] = set()
    for i in indices:
        key = routed_event_id(received_id(sid(i, run)))
        dest = TEXTS[i % len(TEXTS)][1]
        out.add(("command-centre", key))
        out.add((dest, key))
    return out


def sms_form(i: int, run: str = "") -> dict[str, str]:
    text, _ = TEXTS[i % len(TEXTS)]
    return {
        "MessageSid": sid(i, run),
        "AccountSid": "AC" + "0" * 32,
        "From": f"+86138{i % 100_000_000:08d}",
        "To": "+8612110",
        "Body": f"{text}（{i}）",
        "NumMedia": "0",
    }


def iter_routes(routes: Iterable[Any], prefix: str = "") -> Iterable[tuple[str, set[str], Any]]:
    """(path, methods, route) of every endpoint, through included routers (FastAPI ≥ 0.16x
    wraps them in `_IncludedRouter`, whose `original_router` holds the real routes)."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            context = getattr(route, "include_context", None)
            yield from iter_routes(inner.routes, prefix + getattr(context, "prefix", ""))
            continue
        path = getattr(route, "path", None)
        if path is not None:
            yield prefix + path, set(getattr(route, "methods", None) or ()), route


def twilio_path(app: Any) -> str | None:
    """The app's Twilio SMS webhook path, if the route exists yet."""
    for path, methods, _ in iter_routes(app.routes):
        if "twilio" in path and "sms" in path and "POST" in methods:
            return path
    return None


@dataclass
class Intake:
    """Sends citizens' SMS like Twilio does: retry on 5xx / no answer, until accepted."""

    app: Any
    client: httpx.AsyncClient
    settings: Settings
    run: str = ""
    accepted: set[int] = field(default_factory=set)
    answers: dict[int, int] = field(default_factory=dict)
    retries: int = 0
    bodies: dict[int, str] = field(default_factory=dict)

    @property
    def path(self) -> str | None:
        return twilio_path(self.app)

    async def send_once(self, i: int) -> int:
        """One attempt; returns the HTTP status (599 for no answer)."""
        form = sms_form(i, self.run)
        path = self.path
        if path is None:  # no webhook yet: hand over as the webhook will
            alert = Alert(
                channel=Channel.SMS, received_at=utcnow(), caller=form["From"],
                text=form["Body"], source_ref=form["MessageSid"],
            )
            event = make_event(
                alert, source="/linkgate/webhooks/twilio/sms", subject=alert.incident_id,
                event_id=received_id(form["MessageSid"]),
            )
            try:
                await self.app.state.spool.publish_or_spool(event)
            except Exception:
                return 599
            return 200
        signature = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC_BASE + path, form)
        try:
            r = await self.client.post(
                path, data=form, headers={"X-Twilio-Signature": signature}, timeout=10
            )
        except httpx.HTTPError:
            return 599
        self.bodies[i] = r.text
        return r.status_code

    async def send(self, i: int, deadline_s: float = 60.0) -> None:
        loop = asyncio.get_running_loop()
        end = loop.time() + deadline_s
        while True:
            status = await self.send_once(i)
            self.answers[i] = status
            if status < 300:
                self.accepted.add(i)
                return
            if status < 500 and status != 429:
                raise AssertionError(f"alert {i} refused with {status}")
            if loop.time() > end:
                raise AssertionError(f"alert {i} never accepted (last {status})")
            self.retries += 1
            await asyncio.sleep(0.2)

    async def send_all(self, indices: Iterable[int], concurrency: int = 16) -> None:
        todo: asyncio.Queue[int] = asyncio.Queue()
        for i in indices:
            todo.put_nowait(i)

        async def worker() -> None:
            while not todo.empty():
                await self.send(todo.get_nowait())

        await asyncio.gather(*(worker() for _ in range(concurrency)))


def chaos_settings(base: Settings, receiver: Receiver, **overrides: Any) -> Settings:
    """`base` (fresh vhost + prefix) pointed at the centres, with the Twilio secrets."""
    values: dict[str, Any] = {
        **destination_urls(receiver),
        "twilio_auth_token": AUTH_TOKEN,
        "public_base_url": PUBLIC_BASE,
        "destination_timeout_s": 2.0,
        # every centre served by the router itself (LINKGATE_DIRECT_DELIVERY), so that
        # each routed alert is checked at its own centre, not only at the command centre
        "direct_delivery": list(Destination),
        **overrides,
    }
    return load_settings(**{**base.model_dump(), **values})


@contextlib.asynccontextmanager
async def running_app(settings: Settings) -> Any:
    """The API app with its lifespan running, and an httpx client on it (in-process)."""
    from gateway.api.app import create_app

    app = create_app(settings)
    async with app.router.lifespan_context(app):
        for _ in range(200):
            if app.state.publisher is not None:
                break
            await asyncio.sleep(0.05)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_BASE) as client:
            yield app, client


@contextlib.asynccontextmanager
async def running_router(settings: Settings) -> Any:
    """The router's consumers in this process (`linkgate router` minus the signal handling)."""
    redis = Redis.from_url(settings.redis_url)
    router = Router(settings, redis, RulesHolder(settings.rules_file))
    await router.start()
    try:
        yield router
    finally:
        await router.stop()
        await redis.aclose()


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment a `linkgate` subprocess needs to see the same settings."""
    import json

    env = {k: v for k, v in os.environ.items() if not k.startswith("LINKGATE_")}
    env.update(
        {
            "LINKGATE_AMQP_URL": settings.amqp_url,
            "LINKGATE_REDIS_URL": settings.redis_url,
            "LINKGATE_REDIS_PREFIX": settings.redis_prefix,
            "LINKGATE_SPOOL_DIR": str(settings.spool_dir),
            "LINKGATE_RETRY_DELAYS_MS": json.dumps(settings.retry_delays_ms),
            "LINKGATE_MAX_ATTEMPTS": str(settings.max_attempts),
            "LINKGATE_LOG_JSON": "true",
            "LINKGATE_LOG_LEVEL": "WARNING",
            "LINKGATE_DESTINATION_TIMEOUT_S": str(settings.destination_timeout_s),
        }
    )
    env["LINKGATE_DIRECT_DELIVERY"] = json.dumps([d.value for d in settings.direct_delivery])
    for name in ("command_centre_url", "hotline_url", "maritime_sar_url", "ocean_fishery_url"):
        value = getattr(settings, name)
        if value is not None:
            env[f"LINKGATE_{name.upper()}"] = str(value)
    return env


def linkgate(*args: str) -> list[str]:
    exe = Path(sys.executable).with_name("linkgate")
    return [str(exe), *args] if exe.exists() else [sys.executable, "-m", "gateway.cli", *args]


def run_linkgate(settings: Settings, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        linkgate(*args), env=settings_env(settings), capture_output=True, text=True,
        timeout=timeout, cwd=Path(__file__).resolve().parents[2],
    )
