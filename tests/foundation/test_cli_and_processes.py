"""The `linkgate` CLI: every subcommand answers --help; processes stop cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

import httpx
import pytest

from gateway.settings import Settings
from gateway.topology import QUEUES

LINKGATE = str(Path(sys.executable).with_name("linkgate"))


@pytest.mark.parametrize(
    "argv",
    [[], ["api"], ["router"], ["ami"], ["sla"], ["route"], ["dlq"], ["contracts", "export"]],
    ids=lambda a: " ".join(a) or "linkgate",
)
def test_help(argv: list[str]) -> None:
    out = subprocess.run([LINKGATE, *argv, "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "Usage" in out.stdout


def test_bad_setting_exits_2_with_a_clear_message() -> None:
    env = {**os.environ, "LINKGATE_HTTP_PORT": "http"}
    out = subprocess.run([LINKGATE, "sla"], capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 2
    assert "LINKGATE_HTTP_PORT" in out.stderr


def _declared_queues(settings: Settings) -> dict[str, set[str]]:
    """Work queues in the test's vhost (management API) with their bindings to the exchange."""
    vhost = quote(unquote(urlsplit(settings.amqp_url).path.lstrip("/")), safe="")
    base = "http://127.0.0.1:15672/api"
    with httpx.Client(auth=("guest", "guest"), timeout=10) as client:
        names = [q["name"] for q in client.get(f"{base}/queues/{vhost}").json()]
        work = [n for n in names if not n.endswith(".dlq") and ".retry." not in n]
        return {
            name: {
                b["routing_key"]
                for b in client.get(f"{base}/queues/{vhost}/{quote(name, safe='')}/bindings").json()
                if b["source"] == settings.exchange
            }
            for name in work
        }


@pytest.mark.parametrize(
    ("process", "event_loop"),
    [("router", "auto"), ("sla", "auto"), ("ami", "auto"), ("channels", "auto"),
     ("router", "asyncio")],
)
def test_process_starts_declares_its_queues_and_stops_on_sigterm(
    process: str, event_loop: str, settings: Settings, tmp_path: Path
) -> None:
    env = {
        "LINKGATE_EVENT_LOOP": event_loop,
        **os.environ,
        "LINKGATE_AMQP_URL": settings.amqp_url,
        "LINKGATE_REDIS_URL": settings.redis_url,
        "LINKGATE_REDIS_PREFIX": settings.redis_prefix,
        "LINKGATE_AMI_PORT": "1",  # no PBX here: the AMI process must keep retrying, not die
        "LINKGATE_TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "LINKGATE_TWILIO_AUTH_TOKEN": "t" * 32,
        "LINKGATE_TWILIO_FROM_NUMBER": "+8657812110",
        "LINKGATE_SPOOL_DIR": str(tmp_path / "spool"),
        "LINKGATE_LOG_JSON": "true",
    }
    log_path = tmp_path / f"{process}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([LINKGATE, process], stdout=log, stderr=log, env=env)
    expected = {q.name: set(q.bindings) for q in QUEUES if q.process == process}
    try:
        deadline = time.monotonic() + 60
        while '"process.started"' not in log_path.read_text():
            assert proc.poll() is None, log_path.read_text()[-3000:]
            assert time.monotonic() < deadline, "no process.started within 60 s"
            time.sleep(0.1)
        while set(_declared_queues(settings)) < set(expected) and time.monotonic() < deadline:
            time.sleep(0.2)  # connect, declare, consume
        assert proc.poll() is None, log_path.read_text()[-3000:]
        # the central topology (declared by the API at start) is what the process consumes
        assert _declared_queues(settings) == expected
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    out = log_path.read_text()
    assert proc.returncode == 0, out[-3000:]
    assert '"process.stopped"' in out
    # uvloop by default (a dependency); the stock loop when asked for
    assert f'"event_loop": "{"asyncio" if event_loop == "asyncio" else "uvloop"}"' in out


def test_asking_for_a_missing_uvloop_exits_2_with_a_clear_message(tmp_path: Path) -> None:
    """A machine without uvloop and LINKGATE_EVENT_LOOP=uvloop: refused at start, named."""
    # hide uvloop from the child's module finder (sitecustomize runs at interpreter start)
    sitecustomize = tmp_path / "sitecustomize.py"
    sitecustomize.write_text(
        "import importlib.util, sys\n"
        "_find = importlib.util.find_spec\n"
        "importlib.util.find_spec = lambda n, *a: None if n == 'uvloop' else _find(n, *a)\n"
    )
    env = {**os.environ, "LINKGATE_EVENT_LOOP": "uvloop", "PYTHONPATH": str(tmp_path)}
    for command in ("sla", "api"):
        out = subprocess.run(
            [LINKGATE, command], capture_output=True, text=True, timeout=60, env=env
        )
        assert out.returncode == 2, (command, out.stderr[-2000:])
        assert "LINKGATE_EVENT_LOOP=uvloop but uvloop is not installed" in out.stderr
