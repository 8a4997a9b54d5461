"""Test-owned services the chaos tests may break: a RabbitMQ node, a redis-server, a centre.

Nothing here touches the shared broker (5672) or Redis (6379) that other engineers use:
each service runs on its own loopback port and directory, and is stopped (and its
leftovers killed by node name / port) when the test session ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float, up: bool = True) -> None:
    """Wait until a TCP port accepts (up=True) or refuses (up=False) connections."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                if up:
                    return
        except OSError:
            if not up:
                return
        time.sleep(0.05)
    raise TimeoutError(f"port {port} not {'up' if up else 'down'} after {timeout}s")


# --------------------------------------------------------------------------- RabbitMQ


class ChaosRabbit:
    """A private RabbitMQ node on its own port: `stop_app`/`start_app` break only it."""

    def __init__(self) -> None:
        self.id = uuid.uuid4().hex[:8]
        self.node = f"lgchaos{self.id}@localhost"
        self.port = free_port()
        while self.port + 20000 > 65535:
            self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix=f"lgchaos-{self.id}-"))
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.port + 20000),
            "RABBITMQ_CONFIG_FILE": str(self.dir / "node.conf"),
            "RABBITMQ_MNESIA_BASE": str(self.dir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.dir / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.dir / "enabled_plugins"),
            "RABBITMQ_PID_FILE": str(self.dir / "pid"),
        }

    def url(self, vhost: str = "") -> str:
        from urllib.parse import quote

        return f"amqp://guest:guest@127.0.0.1:{self.port}/{quote(vhost, safe='')}"

    def start(self, timeout: float = 60.0) -> None:
        (self.dir / "enabled_plugins").write_text("[].\n")
        (self.dir / "node.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\nloopback_users = none\n"
        )
        shutil.chown(self.dir, "rabbitmq", "rabbitmq")
        for p in self.dir.iterdir():
            shutil.chown(p, "rabbitmq", "rabbitmq")
        self._proc = subprocess.Popen(
            ["rabbitmq-server"],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        wait_port(self.port, timeout)
        self.ctl("await_startup", timeout=timeout)

    def ctl(self, *args: str, timeout: float = 60.0) -> str:
        out = subprocess.run(
            ["rabbitmqctl", "-n", self.node, *args],
            env=self.env,
            capture_output=True,
            timeout=timeout,
            check=True,
        )
        return out.stdout.decode()

    def stop_app(self) -> None:
        self.ctl("stop_app")
        wait_port(self.port, 20, up=False)

    def start_app(self) -> None:
        self.ctl("start_app")
        wait_port(self.port, 30)

    def add_vhost(self, name: str) -> None:
        self.ctl("add_vhost", name)
        self.ctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")

    def delete_vhost(self, name: str) -> None:
        with contextlib.suppress(subprocess.SubprocessError):
            self.ctl("delete_vhost", name)

    def stop(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError):
            self.ctl("stop", timeout=30)
        if self._proc is not None:
            try:
                self._proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self._proc.pid, signal.SIGKILL)
                self._proc.wait(timeout=5)
        # leftovers of this node only (matched by its unique node name)
        found = subprocess.run(
            ["pgrep", "-f", f"-sname {self.node}|{self.node}"], capture_output=True
        ).stdout.split()
        for pid in found:
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), signal.SIGKILL)
        for _ in range(10):  # the node may still be writing as it goes: retry briefly
            shutil.rmtree(self.dir, ignore_errors=True)
            if not self.dir.exists():
                break
            time.sleep(0.5)


# --------------------------------------------------------------------------- Redis


class ChaosRedis:
    """A private redis-server with AOF (fsync always), restarted by the tests."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="lgchaos-redis-"))
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self._proc = subprocess.Popen(
            [
                "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                "--dir", str(self.dir), "--appendonly", "yes", "--appendfsync", "always",
                "--save", "", "--protected-mode", "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_port(self.port, 10)

    def kill(self) -> None:
        """SIGKILL: no shutdown save, only what the AOF already holds survives."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait(timeout=10)
            self._proc = None
        wait_port(self.port, 10, up=False)

    def restart(self) -> None:
        self.kill()
        self.start()

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=5)
            self._proc = None
        shutil.rmtree(self.dir, ignore_errors=True)


# --------------------------------------------------------------------------- the centres


@dataclass
class Receiver:
    """The centres' HTTP intakes on one loopback port: `/<destination>/alerts` (other
    paths, such as the command centre's `/events` notices, are counted in `notices`).

    A minimal HTTP/1.1 server (keep-alive, Content-Length bodies) that counts every POST
    by (destination, Idempotency-Key). `down` holds destinations that answer 503.
    """

    port: int = 0
    down: set[str] = field(default_factory=set)
    posts: Counter[tuple[str, str]] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)
    notices: Counter[tuple[str, str, str]] = field(default_factory=Counter)  # not alerts
    bodies: dict[tuple[str, str], bytes] = field(default_factory=dict)
    keep_bodies: bool = False
    delay_s: float = 0.0
    _server: asyncio.base_events.Server | None = None
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def base_url(self, destination: str) -> str:
        return f"http://127.0.0.1:{self.port}/{destination}/"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)

    def keys(self, destination: str) -> set[str]:
        return {k for (d, k) in self.posts if d == destination}

    def duplicates(self) -> dict[tuple[str, str], int]:
        return {k: n for k, n in self.posts.items() if n > 1}

    def total(self, destination: str | None = None) -> int:
        return sum(n for (d, _), n in self.posts.items() if destination in (None, d))

    async def wait_for(self, predicate: object, timeout: float) -> None:
        """Wait until `predicate()` is true (checked after every POST)."""
        assert callable(predicate)
        async with asyncio.timeout(timeout):
            while not predicate():
                self._changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), 0.5)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                _method, path, _ = lines[0].split(" ", 2)
                headers: dict[str, str] = {}
                for line in lines[1:]:
                    if ":" in line:
                        k, v = line.split(":", 1)
                        headers[k.strip().lower()] = v.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                if _method == "GET":  # the counts, for a load generator in another process
                    data = json.dumps(
                        {"total": self.total(), "by_destination": per_destination(self),
                         "duplicates": len(self.duplicates())}
                    ).encode()
                    writer.write(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        b"Content-Length: " + str(len(data)).encode() + b"\r\n\r\n" + data
                    )
                    await writer.drain()
                    continue
                dest = path.strip("/").split("/")[0]
                if self.delay_s:
                    await asyncio.sleep(self.delay_s)
                if dest in self.down:
                    self.refused[dest] += 1
                    writer.write(
                        b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\ndown"
                    )
                elif not path.rstrip("/").endswith("/alerts"):  # e.g. the centre's /events
                    self.notices[(dest, path, headers.get("idempotency-key", ""))] += 1
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
                    self._changed.set()
                else:
                    key = (dest, headers.get("idempotency-key", ""))
                    self.posts[key] += 1
                    if self.keep_bodies:
                        self.bodies[key] = body
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
                    self._changed.set()
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()


def per_destination(receiver: Receiver) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for (d, _), n in receiver.posts.items():
        out[d] += n
    return dict(out)
