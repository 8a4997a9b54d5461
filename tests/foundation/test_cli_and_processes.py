"""The `linkgate` CLI: every subcommand answers --help; processes stop cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gateway.settings import Settings

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


@pytest.mark.parametrize("process", ["router", "sla", "ami"])
def test_process_starts_logs_and_stops_on_sigterm(process: str, settings: Settings) -> None:
    env = {
        **os.environ,
        "LINKGATE_AMQP_URL": settings.amqp_url,
        "LINKGATE_REDIS_URL": settings.redis_url,
        "LINKGATE_REDIS_PREFIX": settings.redis_prefix,
        "LINKGATE_AMI_PORT": "1",  # no PBX here: the AMI process must keep retrying, not die
        "LINKGATE_LOG_JSON": "true",
    }
    proc = subprocess.Popen([LINKGATE, process], stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stderr is not None
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while not any('"process.started"' in line for line in seen):
            assert time.monotonic() < deadline, "no process.started within 60 s"
            line = proc.stderr.readline()
            assert line, f"{process} exited early: {''.join(seen)[-2000:]}"
            seen.append(line)
        time.sleep(1.0)  # let it get to work (connect, declare, consume)
        assert proc.poll() is None, "".join(seen)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    out = "".join(seen) + err
    assert proc.returncode == 0, out[-3000:]
    assert '"process.stopped"' in out
