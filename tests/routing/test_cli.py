"""`linkgate route`: one JSON object per alert, in order; no broker or Redis needed."""

from __future__ import annotations

import io
import json
import os
import select
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


def test_a_live_pipe_gets_each_answer_as_its_line_arrives() -> None:
    """Lines are classified in batches, but a batch never waits for input that has not
    come: with stdin still open, the first line's answer arrives before the second line
    is written."""
    env = {**os.environ, "LINKGATE_AMQP_URL": "amqp://nobody@127.0.0.1:1/"}
    proc = subprocess.Popen(
        [str(LINKGATE), "route"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env=env,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write('{"text":"路灯坏了","channel":"sms"}\n')
        proc.stdin.flush()
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        assert ready, "no answer while stdin stays open"
        assert json.loads(proc.stdout.readline())["destination"] == "12345"
        proc.stdin.write('{"text":"货轮搁浅","channel":"call"}\n')
        proc.stdin.close()
        assert json.loads(proc.stdout.readline())["destination"] == "maritime-sar"
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
        proc.wait()


def test_a_large_input_is_answered_line_for_line() -> None:
    """More lines than one batch, bad lines among them: every line answered, in order."""
    texts = ["路灯坏了", "渔船进水了", "货轮搁浅", "有人落水了"]
    lines = [json.dumps({"text": texts[i % 4]}, ensure_ascii=False) if i % 97 else "{bad"
             for i in range(1, 1201)]
    out = io.StringIO()
    code = route_command(text=None, channel="api", rules_file=None,
                         stdin=io.StringIO("\n".join(lines) + "\n"), stdout=out)
    assert code == 1
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(rows) == 1200
    want = ["12345", "ocean-fishery", "maritime-sar", "command-centre"]
    for i, row in enumerate(rows, 1):
        assert row == ({"error": row["error"], "line": i} if i % 97 == 0 else row)
        if i % 97:
            assert row["destination"] == want[i % 4], (i, row)
