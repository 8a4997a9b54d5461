"""`linkgate route`: one JSON object per alert, in order; no broker or Redis needed."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

from gateway.routing.cli import route_command

LINKGATE = Path(sys.executable).with_name("linkgate")


def test_single_text() -> None:
    out = io.StringIO()
    assert route_command(text="路灯杆倒了压住人", channel="wechat", rules_file=None, stdout=out) == 0
    result = json.loads(out.getvalue())
    assert result["destination"] == "command-centre"
    assert result["rule"] == "emergency.structure"
    assert result["category"] == "emergency.structure"
    assert result["matched"] == ["倒了压", "压住"]


def test_stdin_lines_in_order_with_errors_in_place() -> None:
    lines = [
        {"text": "路燈壞了", "channel": "sms"},
        {"text": "渔船进水了"},
        "not json",
        {"text": "x", "channel": "fax"},
        {"text": "货轮搁浅", "channel": "call"},
    ]
    stdin = io.StringIO(
        "\n".join(x if isinstance(x, str) else json.dumps(x, ensure_ascii=False) for x in lines)
    )
    out = io.StringIO()
    assert route_command(text=None, channel="api", rules_file=None, stdin=stdin, stdout=out) == 1
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r.get("destination") for r in rows] == [
        "12345", "ocean-fishery", None, None, "maritime-sar",
    ]
    assert rows[0]["script"] == "hant"
    assert rows[2]["line"] == 3 and "error" in rows[2]
    assert "channel" in rows[3]["error"]


def test_bad_rules_file_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "r.yaml"
    bad.write_text("version: 1\nrules: []\n", encoding="utf-8")
    assert route_command(text="x", channel="api", rules_file=bad, stdout=io.StringIO()) == 2


def test_console_script_without_broker() -> None:
    env = {**os.environ, "LINKGATE_AMQP_URL": "amqp://nobody@127.0.0.1:1/", "LINKGATE_REDIS_URL": "redis://127.0.0.1:1/0"}
    proc = subprocess.run(
        [str(LINKGATE), "route"],
        input='{"text":"有人落水了","channel":"sms"}\n{"text":"咨询医保"}\n',
        capture_output=True, text=True, timeout=30, env=env, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["destination"] for r in rows] == ["command-centre", "12345"]
