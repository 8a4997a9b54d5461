"""Simulated peers for the demo: the centres, the 12345 platform, Twilio's REST API, WeCom.

One small FastAPI app stands in for every system that cannot run on this machine. It
records what the gateway sends, answers as those systems do, and plays the unit liaisons:
an order SMS is answered (acknowledged, arrived, completed) through the gateway's own,
signed Twilio webhook, so replies travel the same path a real liaison's would.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from twilio.request_validator import RequestValidator

from contracts.common import new_id

ORDER_CODE = re.compile(r"(?<![A-Z0-9])([A-Z0-9]{4,8})(?![A-Z0-9])")


@dataclass
class PeerRecord:
    """What the simulated peers have seen, for the demo's progress display."""

    deliveries: Counter[str] = field(default_factory=Counter)  # records per centre
    other_posts: Counter[str] = field(default_factory=Counter)  # per centre and kind
    delivery_ids: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    duplicates: Counter[str] = field(default_factory=Counter)
    sms_sent: int = 0
    wecom_posts: int = 0
    replies_sent: Counter[str] = field(default_factory=Counter)
    replies_failed: int = 0
    last_activity: float = 0.0
    last: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class LiaisonBehaviour:
    """How the simulated liaisons answer orders (seconds between replies)."""

    ack_after: float = 1.0
    arrive_after: float = 3.0
    complete_after: float = 3.0
    silent_ratio: float = 0.1  # some never answer: the SLA timers must notice


def build_peers_app(
    *,
    gateway_base_url: str,
    twilio_auth_token: str,
    twilio_number: str,
    behaviour: LiaisonBehaviour | None = None,
    on_delivery: Callable[[str, Any], Awaitable[None]] | None = None,
    seed: int = 7,
) -> tuple[FastAPI, PeerRecord]:
    """The simulated peers; `gateway_base_url` is where liaison replies are posted."""
    app = FastAPI(title="Linkage Gateway demo peers")
    record = PeerRecord()
    how = behaviour or LiaisonBehaviour()
    rng = random.Random(seed)
    validator = RequestValidator(twilio_auth_token)
    tasks: set[asyncio.Task[None]] = set()

    def remember(kind: str, detail: str) -> None:
        record.last_activity = time.monotonic()
        record.last.append((kind, detail))
        del record.last[:-50]

    def spawn(coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    @app.post("/centres/{centre}")
    @app.post("/centres/{centre}/{rest:path}")
    async def centre(centre: str, request: Request, rest: str = "") -> JSONResponse:
        key = request.headers.get("idempotency-key", "")
        body: Any = await request.json()
        kind = rest.split("/", 1)[0] or "alerts"
        record.other_posts[f"{centre} /{kind}"] += 1
        if kind == "events":  # notices (breaches, sea status …), not alert records
            remember(f"{centre} notice", str(body.get("type", "")))
            return JSONResponse({"accepted": True})
        if key in record.delivery_ids[centre]:
            record.duplicates[centre] += 1
        else:
            record.delivery_ids[centre].add(key)
            record.deliveries[centre] += 1
            if on_delivery is not None:
                spawn(on_delivery(centre, body))
        remember(centre, str(body)[:120])
        answer: dict[str, Any] = {"accepted": True, "id": new_id()}
        if kind == "tickets":
            answer["ticket_id"] = f"GD{rng.randrange(10**11, 10**12)}"
        return JSONResponse(answer, status_code=201 if kind != "alerts" else 200)

    @app.post("/2010-04-01/Accounts/{account}/Messages.json")
    async def twilio_send(account: str, request: Request) -> JSONResponse:
        form = await request.form()
        to, body = str(form.get("To", "")), str(form.get("Body", ""))
        callback = str(form.get("StatusCallback", "") or "")
        sid = "SM" + new_id().lower().ljust(32, "0")[:32]
        record.sms_sent += 1
        remember("sms", f"{to[-4:]}: {body[:60]}")
        spawn(_after_sms(sid, to, body, callback))
        return JSONResponse(_message_json(account, sid, to, twilio_number, body), status_code=201)

    @app.post("/wecom/cgi-bin/webhook/send")
    async def wecom_send(request: Request) -> dict[str, Any]:
        record.wecom_posts += 1
        remember("wecom", str(await request.json())[:80])
        return {"errcode": 0, "errmsg": "ok"}

    @app.get("/_peers/stats")
    async def stats() -> dict[str, Any]:
        return {
            "deliveries": dict(record.deliveries),
            "other_posts": dict(record.other_posts),
            "duplicates": dict(record.duplicates),
            "sms_sent": record.sms_sent,
            "wecom_posts": record.wecom_posts,
            "replies_sent": dict(record.replies_sent),
        }

    async def post_signed(client: httpx.AsyncClient, path: str, params: dict[str, str]) -> None:
        url = gateway_base_url.rstrip("/") + path
        signature = validator.compute_signature(url, params)
        await client.post(url, data=params, headers={"X-Twilio-Signature": signature})

    async def _after_sms(sid: str, to: str, body: str, callback: str) -> None:
        try:
            await _answer_sms(sid, to, body, callback)
        except httpx.HTTPError:
            record.replies_failed += 1  # the gateway stopped before the liaison answered

    async def _answer_sms(sid: str, to: str, body: str, callback: str) -> None:
        async with httpx.AsyncClient(timeout=10) as client:
            if callback:
                for status in ("sent", "delivered"):
                    await asyncio.sleep(0.3)
                    await post_signed(
                        client,
                        _path(callback, gateway_base_url),
                        {
                            "MessageSid": sid,
                            "MessageStatus": status,
                            "To": to,
                            "From": twilio_number,
                        },
                    )
            match = ORDER_CODE.search(body)
            if match is None or rng.random() < how.silent_ratio:
                return
            code = match.group(1)
            for reply, delay, kind in (
                (f"1 {code}", how.ack_after, "acknowledged"),
                (f"到达 {code}", how.arrive_after, "arrived"),
                (f"3 {code} 处置完毕", how.complete_after, "completed"),
            ):
                await asyncio.sleep(delay * (0.5 + rng.random()))
                params = {
                    "MessageSid": "SM" + new_id().lower().ljust(32, "0")[:32],
                    "AccountSid": "ACdemo",
                    "From": to,
                    "To": twilio_number,
                    "Body": reply,
                    "NumMedia": "0",
                }
                await post_signed(client, "/webhooks/twilio/sms", params)
                record.replies_sent[kind] += 1
                record.last_activity = time.monotonic()

    return app, record


def _path(url: str, base: str) -> str:
    """The path (and query) of a callback URL that points at the gateway."""
    return url[len(base.rstrip("/")) :] if url.startswith(base.rstrip("/")) else url


def _message_json(account: str, sid: str, to: str, sender: str, body: str) -> dict[str, Any]:
    return {
        "account_sid": account,
        "api_version": "2010-04-01",
        "body": body,
        "date_created": None,
        "date_sent": None,
        "date_updated": None,
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": sender,
        "messaging_service_sid": None,
        "num_media": "0",
        "num_segments": "1",
        "price": None,
        "price_unit": "CNY",
        "sid": sid,
        "status": "queued",
        "subresource_uris": {},
        "to": to,
        "uri": f"/2010-04-01/Accounts/{account}/Messages/{sid}.json",
    }
