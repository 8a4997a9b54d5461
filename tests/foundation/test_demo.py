"""`linkgate demo --once`, the README's run command, as a newcomer runs it: the whole
stack as processes, simulated peers, one round of real traffic; exit 0 only if every
alert reached its centre exactly once. It uses its own vhost (`linkgate-demo`) and Redis
prefix (`demo`), recreated at each run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

LINKGATE = str(Path(sys.executable).with_name("linkgate"))


def test_demo_once_delivers_every_alert_exactly_once(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINKGATE_")}
    env["LINKGATE_SPOOL_DIR"] = str(tmp_path / "spool")
    out = subprocess.run(
        [LINKGATE, "demo", "--once"], capture_output=True, text=True, timeout=300, env=env,
        cwd=tmp_path,
    )
    text = out.stdout + out.stderr
    assert out.returncode == 0, text[-4000:]
    summary = text[text.index("demo summary"):]
    for centre in ("12345", "command-centre", "maritime-sar", "ocean-fishery"):
        line = next(ln for ln in summary.splitlines() if ln.strip().startswith(centre))
        assert line.rstrip().endswith("duplicates 0  ok"), line
    stopped = " ".join(summary[summary.index("processes stopped:"):].split())  # rich wraps
    for process in ("api", "router", "channels", "sla", "ami"):
        assert f"{process} cleanly" in stopped, stopped
