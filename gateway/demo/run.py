"""`linkgate demo`: start the real stack with simulated peers and drive traffic through it.

What runs: `linkgate api`, `router`, `channels`, `sla` and `ami` as separate processes
(exactly as deployed), against the local RabbitMQ (vhost `linkgate-demo`) and Redis
(prefix `demo`); a simulated PBX (the AMI server that replays real Asterisk captures);
and simulated centres, Twilio and WeCom on loopback. The simulated command centre orders
a unit for each emergency it receives; simulated liaisons answer those orders by SMS.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import sys
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import uvicorn
from redis.asyncio import Redis
from rich.console import Console
from rich.live import Live

from gateway.demo.display import Progress, render
from gateway.demo.peers import build_peers_app
from gateway.demo.scenario import SCRIPT, DemoAlert
from gateway.demo.stack import Stack
from gateway.demo.traffic import Citizens, call_suffix, demo_secrets
from gateway.settings import PACKAGE_DIR, Settings

REPO_ROOT = PACKAGE_DIR.parent
DEMO_VHOST = "linkgate-demo"
DEMO_PREFIX = "demo"
API_KEY = "demo-operator-key"
AMI_SECRET = "demo-ami-secret"


def free_port(preferred: int = 0) -> int:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", preferred))
        except OSError:
            s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class DemoOptions:
    once: bool = False
    rounds: int = 1
    retries: int = 1  # each SMS/WeChat message re-posted once, as peers retry
    settle_s: float = 60.0


async def _fresh_vhost(settings: Settings) -> str:
    """A clean vhost for the demo (management API, else rabbitmqctl); its AMQP URL."""
    base = settings.amqp_url.rsplit("/", 1)[0]
    mgmt = "http://127.0.0.1:15672"
    async with httpx.AsyncClient(auth=("guest", "guest"), timeout=10) as client:
        try:
            await client.delete(f"{mgmt}/api/vhosts/{DEMO_VHOST}")
            (await client.put(f"{mgmt}/api/vhosts/{DEMO_VHOST}")).raise_for_status()
            (
                await client.put(
                    f"{mgmt}/api/permissions/{DEMO_VHOST}/guest",
                    json={"configure": ".*", "write": ".*", "read": ".*"},
                )
            ).raise_for_status()
            return f"{base}/{quote(DEMO_VHOST, safe='')}"
        except httpx.HTTPError:
            return settings.amqp_url  # no management API: use the default vhost


async def _clean_redis(settings: Settings) -> None:
    redis = Redis.from_url(settings.redis_url)
    try:
        async for key in redis.scan_iter(match=f"{DEMO_PREFIX}:*", count=1000):
            await redis.delete(key)
    finally:
        await redis.aclose()


def _unit_for_category(category: str) -> str:
    from gateway.directory.store import parse_directory

    directory = parse_directory((PACKAGE_DIR / "directory" / "example_units.yaml").read_text())
    for unit in directory.units:
        if category in unit.categories:
            return unit.id
    return "ls-police"


class CommandCentre:
    """The simulated 110 centre: for each emergency it receives, it orders a unit."""

    def __init__(self, api_url: str, progress: Progress) -> None:
        self._api_url = api_url
        self._progress = progress
        self._ordered: set[str] = set()

    async def on_delivery(self, centre: str, body: Any) -> None:
        if centre != "command-centre" or not isinstance(body, dict):
            return
        data = body.get("data", body)
        decision, alert = data.get("decision", {}), data.get("alert", {})
        incident = alert.get("incident_id") or body.get("subject")
        if not decision.get("emergency") or decision.get("destination") != "command-centre":
            return
        if not incident or incident in self._ordered:
            return
        self._ordered.add(incident)
        unit = _unit_for_category(str(decision.get("category", "")))
        async with httpx.AsyncClient(timeout=10) as client:
            r = await client.post(
                f"{self._api_url}/v1/orders",
                headers={"X-API-Key": API_KEY},
                json={
                    "incident_id": incident,
                    "unit_id": unit,
                    "instructions": (alert.get("text") or "110来电，请立即处置")[:200],
                    "address": (alert.get("location") or {}).get("address"),
                    "via": ["sms", "wecom"],
                    "issued_by": "demo-operator",
                },
            )
        if r.status_code in (200, 201):
            self._progress.orders_issued += 1
            self._progress.note(f"centre ordered {unit}: code {r.json().get('code')}")
        else:
            self._progress.note(f"order refused {r.status_code}: {r.text[:80]}")


async def run_demo(base: Settings, options: DemoOptions) -> int:
    """Run the stack and the traffic; return 0 if every alert reached its centre once."""
    sys.path.insert(0, str(REPO_ROOT))  # the simulated PBX lives with the tests' fake AMI
    from tests.ami.fake_server import FakeAmi, User

    console = Console()
    progress = Progress()
    amqp_url = await _fresh_vhost(base)
    await _clean_redis(base)
    api_port = free_port(base.http_port)
    peers_port = free_port()
    api_url = f"http://127.0.0.1:{api_port}"
    peers_url = f"http://127.0.0.1:{peers_port}"
    peer = demo_secrets()

    pbx = FakeAmi(users={"linkgate": User(AMI_SECRET)}, time_scale=0.02)
    pbx_port = await pbx.start()

    centre = CommandCentre(api_url, progress)
    peers_app, record = build_peers_app(
        gateway_base_url=api_url,
        twilio_auth_token=peer.twilio_auth_token,
        twilio_number=peer.twilio_number,
        on_delivery=centre.on_delivery,
    )

    peers = uvicorn.Server(
        uvicorn.Config(
            peers_app, host="127.0.0.1", port=peers_port, log_level="warning", lifespan="off"
        )
    )
    peers_task = asyncio.create_task(peers.serve())

    env = {
        "LINKGATE_AMQP_URL": amqp_url,
        "LINKGATE_REDIS_URL": base.redis_url,
        "LINKGATE_REDIS_PREFIX": DEMO_PREFIX,
        "LINKGATE_HTTP_HOST": "127.0.0.1",
        "LINKGATE_HTTP_PORT": str(api_port),
        "LINKGATE_PUBLIC_BASE_URL": api_url,
        "LINKGATE_API_KEYS": json.dumps({API_KEY: ["*"]}),
        "LINKGATE_DIRECTORY_FILE": str(PACKAGE_DIR / "directory" / "example_units.yaml"),
        "LINKGATE_SPOOL_DIR": str(REPO_ROOT / "var" / "demo" / "spool"),
        "LINKGATE_COMMAND_CENTRE_URL": f"{peers_url}/centres/command-centre",
        "LINKGATE_HOTLINE_URL": f"{peers_url}/centres/12345",
        "LINKGATE_MARITIME_SAR_URL": f"{peers_url}/centres/maritime-sar",
        "LINKGATE_OCEAN_FISHERY_URL": f"{peers_url}/centres/ocean-fishery",
        "LINKGATE_TWILIO_ACCOUNT_SID": "ACdemo00000000000000000000000000",
        "LINKGATE_TWILIO_AUTH_TOKEN": peer.twilio_auth_token,
        "LINKGATE_TWILIO_FROM_NUMBER": peer.twilio_number,
        "LINKGATE_TWILIO_API_BASE": peers_url,
        "LINKGATE_WECHAT_TOKEN": peer.wechat_token,
        "LINKGATE_WECHAT_APP_ID": peer.wechat_app_id,
        "LINKGATE_WECHAT_AES_KEY": peer.wechat_aes_key,
        "LINKGATE_WECOM_ROBOT_KEYS": json.dumps({"lishui-tier1": "demo-robot"}),
        "LINKGATE_WECOM_API_BASE": f"{peers_url}/wecom",
        "LINKGATE_AMI_HOST": "127.0.0.1",
        "LINKGATE_AMI_PORT": str(pbx_port),
        "LINKGATE_AMI_USERNAME": "linkgate",
        "LINKGATE_AMI_SECRET": AMI_SECRET,
        "LINKGATE_LOG_JSON": "true",
    }
    stack = Stack(env=env, log_dir=REPO_ROOT / "var" / "demo" / "logs")
    board_url = f"{api_url}/board?key={API_KEY}"
    code = 1
    try:
        console.print(f"[bold]starting the gateway[/] (logs in {stack.log_dir})")
        await stack.start("api")
        await stack.wait_ready(api_url)
        for name in ("router", "channels", "sla", "ami"):
            await stack.start(name)
        await asyncio.sleep(2.0)
        async with httpx.AsyncClient(timeout=10) as client:
            citizens = Citizens(client, api_url, peer)
            with Live(render(progress, board_url), console=console, refresh_per_second=4) as live:
                refresher = asyncio.create_task(_refresh(live, progress, record, stack, board_url))
                expected = await _drive(citizens, pbx, progress, options)
                code = await _settle(progress, record, expected, options.settle_s)
                if not options.once:
                    progress.note(f"traffic done; the stack keeps running — board: {board_url}")
                    progress.note("Ctrl-C to stop")
                    await asyncio.Event().wait()
                refresher.cancel()
                live.update(render(progress, board_url))
        console.print(_summary(record, expected, progress))
    except (KeyboardInterrupt, asyncio.CancelledError):
        console.print("stopping…")
        code = 0
    finally:
        codes = await stack.stop()
        # uvicorn re-raises the SIGTERM it handled gracefully: -15 is a clean stop too
        clean = {name: c in (0, -15) for name, c in codes.items()}
        console.print("processes stopped: " + ", ".join(
            f"{name} {'cleanly' if ok else codes[name]}" for name, ok in clean.items()
        ))
        peers.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(peers_task, 5)
        await pbx.stop()
    return code


async def _drive(
    citizens: Citizens, pbx: Any, progress: Progress, options: DemoOptions
) -> dict[str, int]:
    """Send the script `rounds` times; returns how many deliveries each centre should see."""
    expected: dict[str, int] = {}
    for _ in range(options.rounds):
        for alert in SCRIPT:
            await _send(citizens, pbx, alert, progress, options)
            expected[alert.expect] = expected.get(alert.expect, 0) + 1
            if alert.expect != "command-centre":
                # the command centre keeps the whole picture: it gets every decision too
                expected["command-centre"] = expected.get("command-centre", 0) + 1
            if alert.channel == "wechat" and alert.lat is not None:
                # the location message is an alert of its own; with no text to classify,
                # a human at the command centre triages it
                expected["command-centre"] += 1
            await asyncio.sleep(0.4)
    return expected


async def _send(
    citizens: Citizens, pbx: Any, alert: DemoAlert, progress: Progress, options: DemoOptions
) -> None:
    channel = alert.channel
    if channel == "sms":
        status = await citizens.sms(alert, retries=options.retries)
    elif channel == "wechat":
        status = await citizens.wechat(alert, retries=options.retries)
    else:
        await pbx.inject("02", rename=call_suffix())
        status = 200
    progress.sent[channel] = progress.sent.get(channel, 0) + 1
    progress.duplicates_sent += options.retries if channel != "call" else 0
    if status >= 300:
        progress.refused[channel] = progress.refused.get(channel, 0) + 1
        progress.note(f"{channel} refused with {status}")
    else:
        progress.note(f"{channel}: {alert.text[:30] or '110 call from +86138****8000'}")


async def _refresh(
    live: Live, progress: Progress, record: Any, stack: Stack, board_url: str
) -> None:
    while True:
        progress.peers = {
            "deliveries": dict(record.deliveries),
            "other_posts": dict(record.other_posts),
            "duplicates": dict(record.duplicates),
            "sms_sent": record.sms_sent,
            "wecom_posts": record.wecom_posts,
            "replies_sent": dict(record.replies_sent),
        }
        progress.processes = stack.alive()
        live.update(render(progress, board_url))
        await asyncio.sleep(0.25)


async def _settle(
    progress: Progress, record: Any, expected: dict[str, int], timeout_s: float
) -> int:
    """Wait until every centre has what it should; 0 if exactly that, else 1."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout_s):
            while any(record.deliveries.get(d, 0) < n for d, n in expected.items()):  # noqa: ASYNC110
                await asyncio.sleep(0.25)
    # then let the liaisons finish answering their orders (quiet for 4 s, at most 30 s)
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(30):
            while time.monotonic() - record.last_activity < 4.0:  # noqa: ASYNC110
                await asyncio.sleep(0.25)
    exact = all(record.deliveries.get(d, 0) == n for d, n in expected.items())
    no_dups = not any(record.duplicates.values())
    progress.note(
        "every alert reached its centre exactly once"
        if exact and no_dups
        else f"MISMATCH expected {expected} got {dict(record.deliveries)}"
    )
    return 0 if exact and no_dups else 1


def _summary(record: Any, expected: dict[str, int], progress: Progress) -> str:
    lines = ["", "[bold]demo summary[/]"]
    for dest, n in sorted(expected.items()):
        got = record.deliveries.get(dest, 0)
        mark = "[green]ok[/]" if got == n else "[red]MISMATCH[/]"
        lines.append(
            f"  {dest:15} expected {n:3}  delivered {got:3}  duplicates "
            f"{record.duplicates.get(dest, 0)}  {mark}"
        )
    lines.append(
        f"  orders issued {progress.orders_issued}, order SMS {record.sms_sent}, "
        f"liaison replies {dict(record.replies_sent)}"
    )
    return "\n".join(lines)


def demo_main(settings: Settings, options: DemoOptions) -> int:
    return asyncio.run(run_demo(settings, options))
