"""Start and stop the gateway's processes as real subprocesses, as a deployment would."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx


@dataclass
class Stack:
    """The gateway's processes (`linkgate api`, `router`, …) with one shared environment."""

    env: Mapping[str, str]
    log_dir: Path
    processes: dict[str, asyncio.subprocess.Process] = field(default_factory=dict)

    async def start(self, name: str, *args: str) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_dir / f"{name}.log", "wb")  # noqa: ASYNC230 - once per process
        linkgate = str(Path(sys.executable).with_name("linkgate"))
        self.processes[name] = await asyncio.create_subprocess_exec(
            linkgate, name, *args, env={**os.environ, **self.env}, stdout=log, stderr=log
        )
        log.close()

    def alive(self) -> dict[str, bool]:
        return {name: p.returncode is None for name, p in self.processes.items()}

    async def wait_ready(self, base_url: str, timeout_s: float = 60.0) -> None:
        """Wait until the API answers /readyz (broker and Redis reachable)."""
        async with httpx.AsyncClient(timeout=3) as client:
            async with asyncio.timeout(timeout_s):
                while True:
                    with contextlib.suppress(httpx.HTTPError):
                        if (await client.get(f"{base_url}/readyz")).status_code == 200:
                            return
                    dead = [n for n, ok in self.alive().items() if not ok]
                    if dead:
                        raise RuntimeError(f"processes died at start: {dead}; see {self.log_dir}")
                    await asyncio.sleep(0.3)

    async def stop(self, grace_s: float = 20.0) -> dict[str, int | None]:
        """SIGTERM every process (they finish in-flight work), SIGKILL after the grace."""
        for proc in self.processes.values():
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)
        codes: dict[str, int | None] = {}
        for name, proc in self.processes.items():
            try:
                codes[name] = await asyncio.wait_for(proc.wait(), grace_s)
            except TimeoutError:
                proc.kill()
                codes[name] = await proc.wait()
        return codes
