"""A small, strict asyncio AMI client.

Why our own (see docs/ami.md): responses matched to actions by ActionID with a
timeout on every action, EventList collection, MD5 challenge login with the
answer checked, Ping keepalive + TCP keepalive, jittered exponential reconnect,
a bounded event queue (back-pressure), handlers that cannot kill the reader,
and above all: an action in flight when the link drops is NEVER re-sent (a duty
room must not ring twice); its caller gets `AmiLinkLost` (outcome unknown).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import logging
import random
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from adapters.ami.errors import (
    AmiActionError,
    AmiAuthError,
    AmiError,
    AmiLinkLost,
    AmiNotConnected,
    AmiProtocolError,
    AmiTimeout,
)
from adapters.ami.frame import (
    Frame,
    FrameError,
    FrameParser,
    HeaderInput,
    encode_action,
    parse_version,
)

log = logging.getLogger("linkgate.ami")

Listener = Callable[[Frame], None]
Handler = Callable[[Frame], Awaitable[None]]
ConnectHook = Callable[[], Awaitable[None]]
State = Literal["idle", "connecting", "connected", "backoff", "stopped"]


@dataclass
class AmiConfig:
    """Connection parameters; `from_settings` maps the `LINKGATE_AMI_*` settings."""

    host: str
    port: int
    username: str
    secret: str
    events: str = "call,system"  # not dialplan (VarSet/Newexten: 75 % of the traffic)
    action_timeout_s: float = 10.0
    connect_timeout_s: float = 5.0
    ping_interval_s: float = 15.0
    ping_timeout_s: float = 5.0
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    auth_backoff_min_s: float = 5.0
    queue_size: int = 10_000
    keepalive_idle_s: int = 10

    @classmethod
    def from_settings(cls, settings: Any, **overrides: object) -> AmiConfig:
        """From `gateway.settings.Settings` (duck-typed: adapters never import gateway)."""
        values: dict[str, object] = {
            "host": settings.ami_host,
            "port": settings.ami_port,
            "username": settings.ami_username,
            "secret": settings.ami_secret.get_secret_value(),
            "action_timeout_s": settings.ami_action_timeout_s,
            "ping_interval_s": settings.ami_ping_interval_s,
            "ping_timeout_s": settings.ami_ping_timeout_s,
            "backoff_max_s": settings.ami_reconnect_max_s,
            "queue_size": settings.ami_event_queue_size,
        }
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]


@dataclass
class AmiStats:
    """Counters an operator (and a test) can read; failures are never silent."""

    connects: int = 0
    disconnects: int = 0
    auth_failures: int = 0
    events: int = 0
    handler_errors: int = 0
    listener_errors: int = 0
    links_lost_actions: int = 0
    ping_failures: int = 0
    protocol_errors: int = 0
    subscriber_overflows: int = 0
    backoff_delays: list[float] = field(default_factory=list)


class _Pending:
    __slots__ = ("action", "future", "is_list", "items", "response")

    def __init__(self, action: str, future: asyncio.Future[tuple[Frame, list[Frame]]]) -> None:
        self.action = action
        self.future = future
        self.is_list = False
        self.items: list[Frame] = []
        self.response: Frame | None = None


class _Subscription:
    """An ordered, bounded copy of the event stream for one consumer (registered at once)."""

    def __init__(self, owner: list[_Subscription], maxsize: int) -> None:
        self.queue: asyncio.Queue[Frame] = asyncio.Queue(maxsize)
        self.broken = False
        self._owner = owner
        owner.append(self)

    def __aiter__(self) -> _Subscription:
        return self

    async def __anext__(self) -> Frame:
        if self.broken and self.queue.empty():
            self.close()
            raise AmiError("event subscriber fell behind; events were dropped")
        return await self.queue.get()

    def close(self) -> None:
        if self in self._owner:
            self._owner.remove(self)


class _Link:
    """One TCP connection: its writer, reader task and generation number."""

    def __init__(self, writer: asyncio.StreamWriter, generation: int) -> None:
        self.writer = writer
        self.generation = generation
        self.logged_in = False
        self.banner: asyncio.Future[str] = asyncio.get_running_loop().create_future()


class AmiClient:
    """Keeps one logged-in AMI link up; sends actions; delivers events in order."""

    def __init__(self, config: AmiConfig, *, rng: Callable[[], float] = random.random) -> None:
        self.config = config
        self.stats = AmiStats()
        self.version: str | None = None
        self.state: State = "idle"
        self.last_error: BaseException | None = None
        self.generation = 0
        self._rng = rng
        self._ids = itertools.count(1)
        self._pending: dict[str, _Pending] = {}
        self._listeners: list[Listener] = []
        self._handlers: list[Handler] = []
        self._hooks: list[ConnectHook] = []
        self._subs: list[_Subscription] = []
        self._queue: asyncio.Queue[Frame] = asyncio.Queue(config.queue_size)
        self._link: _Link | None = None
        self._connected = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._hook_tasks: set[asyncio.Task[None]] = set()
        self._down_callbacks: list[Callable[[], None]] = []
        self._closing = False

    # ------------------------------------------------------------------ wiring
    def add_listener(self, listener: Listener) -> None:
        """Synchronous, called inline by the reader in wire order (keep it tiny)."""
        self._listeners.append(listener)

    def add_handler(self, handler: Handler) -> None:
        """Async, called in order from the bounded queue; a raise is logged and counted."""
        self._handlers.append(handler)

    def on_disconnect(self, callback: Callable[[], None]) -> None:
        """Called (synchronously) when a logged-in link drops: events may have been missed."""
        self._down_callbacks.append(callback)

    def on_connect(self, hook: ConnectHook) -> None:
        """Run after every successful login (e.g. reconcile with CoreShowChannels)."""
        self._hooks.append(hook)

    def subscribe(self, maxsize: int = 1000) -> _Subscription:
        """Events in PBX order from now on. A consumer `maxsize` behind gets AmiError."""
        return _Subscription(self._subs, maxsize)

    # ------------------------------------------------------------------ lifecycle
    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def start(self) -> None:
        """Start the connection supervisor and the event dispatcher in the background."""
        if self._tasks:
            return
        self._closing = False
        self._tasks = [
            asyncio.create_task(self._supervise(), name="ami-supervisor"),
            asyncio.create_task(self._dispatch(), name="ami-dispatcher"),
        ]

    async def wait_connected(self, timeout_s: float | None = None) -> None:
        await asyncio.wait_for(self._connected.wait(), timeout_s)

    async def close(self) -> None:
        """Log off politely if we can, stop every task, fail what is pending."""
        self._closing = True
        link = self._link
        if link is not None and link.logged_in:
            with contextlib.suppress(AmiError, OSError, asyncio.TimeoutError):
                await self.action("Logoff", timeout_s=1.0, check=False)
        await cancel_and_wait(self._tasks)
        self._tasks = []
        self._drop_link(AmiNotConnected("client closed"))
        self.state = "stopped"

    async def __aenter__(self) -> AmiClient:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ actions
    async def action(
        self,
        name: str,
        headers: HeaderInput = (),
        *,
        action_id: str | None = None,
        timeout_s: float | None = None,
        check: bool = True,
    ) -> Frame:
        """Send one action; return its response. `Response: Error` raises AmiActionError."""
        response, _ = await self._send(name, headers, action_id, timeout_s, check, is_list=False)
        return response

    async def list_action(
        self,
        name: str,
        headers: HeaderInput = (),
        *,
        action_id: str | None = None,
        timeout_s: float | None = None,
    ) -> tuple[Frame, list[Frame]]:
        """Send an EventList action; return (response, items) once `…Complete` arrived."""
        return await self._send(name, headers, action_id, timeout_s, True, is_list=True)

    async def _send(
        self,
        name: str,
        headers: HeaderInput,
        action_id: str | None,
        timeout_s: float | None,
        check: bool,
        *,
        is_list: bool,
        during_login: bool = False,
    ) -> tuple[Frame, list[Frame]]:
        link = self._link
        if link is None or (not link.logged_in and not during_login):
            raise AmiNotConnected(f"{name} not sent: AMI link is down")
        aid = action_id or f"lg-{next(self._ids)}"
        if aid in self._pending:
            raise ValueError(f"ActionID {aid!r} is already in flight")
        data = encode_action(name, aid, headers)  # FrameError on CR/LF injection: not sent
        loop = asyncio.get_running_loop()
        pending = _Pending(name, loop.create_future())
        pending.is_list = is_list
        self._pending[aid] = pending
        wait = timeout_s if timeout_s is not None else self.config.action_timeout_s
        try:
            try:
                link.writer.write(data)
                await link.writer.drain()
            except (ConnectionError, OSError) as exc:
                raise AmiLinkLost(f"{name} ({aid}): link lost while sending") from exc
            try:
                response, items = await asyncio.wait_for(asyncio.shield(pending.future), wait)
            except TimeoutError:
                raise AmiTimeout(f"{name} ({aid}): no answer in {wait:g} s") from None
        finally:
            self._pending.pop(aid, None)
        if check and response.name == "Error":
            raise AmiActionError(name, response)
        return response, items

    # ------------------------------------------------------------------ supervisor
    def _backoff(self, attempt: int, *, auth: bool) -> float:
        cfg = self.config
        cap = min(cfg.backoff_max_s, cfg.backoff_initial_s * 2.0 ** min(attempt, 20))
        if auth:
            cap = max(cap, self.config.auth_backoff_min_s)
        return cap / 2 + self._rng() * cap / 2  # "equal jitter": never a tight loop

    async def _supervise(self) -> None:
        attempt = 0
        while not self._closing:
            self.state = "connecting"
            auth_failed = False
            try:
                await self._connect_once()
                attempt = 0  # a login that worked resets the backoff
            except asyncio.CancelledError:
                raise
            except AmiAuthError as exc:
                auth_failed = True
                self.stats.auth_failures += 1
                self.last_error = exc
                log.error("AMI login refused by %s:%s: %s", self.config.host, self.config.port, exc)
            except (OSError, AmiError, FrameError, TimeoutError) as exc:
                self.last_error = exc
                log.warning("AMI link to %s:%s down: %r", self.config.host, self.config.port, exc)
            if self._closing:
                break
            delay = self._backoff(attempt, auth=auth_failed)
            attempt += 1
            self.stats.backoff_delays.append(delay)
            self.state = "backoff"
            await asyncio.sleep(delay)

    async def _connect_once(self) -> None:
        cfg = self.config
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(cfg.host, cfg.port), cfg.connect_timeout_s
        )
        _tcp_keepalive(writer, cfg.keepalive_idle_s)
        # unique across connections AND process restarts: the bridge tells "seen on this
        # link" from "left over from an earlier one" by equality with it
        self.generation = max(time.time_ns(), self.generation + 1)
        link = _Link(writer, self.generation)
        self._link = link
        reader_task = asyncio.create_task(self._read(reader, link), name="ami-reader")
        ping_task: asyncio.Task[None] | None = None
        try:
            banner = await asyncio.wait_for(asyncio.shield(link.banner), cfg.connect_timeout_s)
            self.version = parse_version(banner)
            await self._login(link)
            link.logged_in = True
            self.stats.connects += 1
            self.state = "connected"
            self.last_error = None
            self._connected.set()
            log.info("AMI connected to %s:%s (AMI %s)", cfg.host, cfg.port, self.version)
            ping_task = asyncio.create_task(self._keepalive(link), name="ami-ping")
            for hook in self._hooks:
                task = asyncio.create_task(self._run_hook(hook))
                self._hook_tasks.add(task)
                task.add_done_callback(self._hook_tasks.discard)
            await reader_task
        finally:
            if ping_task is not None:
                ping_task.cancel()
            reader_task.cancel()
            with contextlib.suppress(BaseException):
                await reader_task
            if link.logged_in:
                self.stats.disconnects += 1
            self._drop_link(AmiLinkLost("AMI link lost; outcome unknown, not re-sent"))

    async def _run_hook(self, hook: ConnectHook) -> None:
        try:
            await hook()
        except Exception:
            self.stats.handler_errors += 1
            log.exception("AMI on-connect hook failed")

    def _drop_link(self, error: AmiError) -> None:
        self._connected.clear()
        link, self._link = self._link, None
        if link is not None:
            with contextlib.suppress(Exception):
                link.writer.transport.abort()
            if not link.banner.done():
                link.banner.set_exception(error)
                link.banner.exception()  # retrieved: nobody may be waiting
        if link is not None and link.logged_in:
            for callback in self._down_callbacks:
                try:
                    callback()
                except Exception:
                    self.stats.listener_errors += 1
                    log.exception("AMI disconnect callback failed")
        for aid, pending in list(self._pending.items()):
            if not pending.future.done():
                self.stats.links_lost_actions += 1
                pending.future.set_exception(type(error)(f"{pending.action} ({aid}): {error}"))
                pending.future.exception()

    async def _login(self, link: _Link) -> None:
        cfg = self.config
        resp, _ = await self._send(
            "Challenge", {"AuthType": "MD5"}, None, cfg.action_timeout_s, False,
            is_list=False, during_login=True,
        )
        challenge = resp.get("Challenge")
        login: dict[str, str] = {"Username": cfg.username}
        if resp.name == "Success" and challenge:
            key = hashlib.md5((challenge + cfg.secret).encode()).hexdigest()
            login.update({"AuthType": "MD5", "Key": key})
        else:  # challenge refused: plain-text login over loopback/TLS only
            login["Secret"] = cfg.secret
        login["Events"] = cfg.events
        try:
            resp, _ = await self._send(
                "Login", login, None, cfg.action_timeout_s, False, is_list=False, during_login=True
            )
        except AmiLinkLost as exc:
            raise AmiAuthError("link closed during login (Asterisk closes on refusal)") from exc
        if resp.name != "Success" or resp.get("Message") != "Authentication accepted":
            raise AmiAuthError(
                f"login as {cfg.username!r} refused: {resp.get('Message') or resp.name}"
            )

    async def _keepalive(self, link: _Link) -> None:
        cfg = self.config
        while True:
            await asyncio.sleep(cfg.ping_interval_s)
            try:
                resp = await self.action("Ping", timeout_s=cfg.ping_timeout_s, check=False)
                if resp.get("Ping") != "Pong" and resp.name != "Success":
                    raise AmiProtocolError(f"odd Ping answer: {resp.headers[:3]}")
            except (AmiError, OSError) as exc:
                self.stats.ping_failures += 1
                log.warning("AMI keepalive failed (%r): dropping the link", exc)
                link.writer.transport.abort()
                return

    # ------------------------------------------------------------------ reader
    async def _read(self, reader: asyncio.StreamReader, link: _Link) -> None:
        try:
            await self._read_frames(reader, link)
        finally:
            if self._link is link:  # fail what waits on this link now, not at its timeout
                self._drop_link(AmiLinkLost("AMI link lost; outcome unknown, not re-sent"))

    async def _read_frames(self, reader: asyncio.StreamReader, link: _Link) -> None:
        parser = FrameParser()
        while True:
            data = await reader.read(65536)
            if not data:
                raise AmiLinkLost("peer closed the AMI connection")
            try:
                frames = parser.feed(data)
            except FrameError as exc:
                self.stats.protocol_errors += 1
                raise AmiProtocolError(str(exc)) from exc
            for frame in frames:
                frame.generation = link.generation
                await self._route(frame, link)

    async def _route(self, frame: Frame, link: _Link) -> None:
        kind = frame.kind
        if kind == "banner":
            if not link.banner.done():
                link.banner.set_result(frame.name)
            return
        aid = frame.get("ActionID")
        pending = self._pending.get(aid) if aid is not None else None
        if kind == "response":
            if pending is None:
                log.debug("AMI response to no pending action: %s", frame.headers[:2])
                return
            if pending.is_list and frame.get("EventList") == "start":
                pending.response = frame
                return
            if not pending.future.done():
                pending.future.set_result((frame, []))
            return
        if pending is not None and pending.is_list and pending.response is not None:
            if frame.get("EventList") == "Complete":
                if not pending.future.done():
                    pending.future.set_result((pending.response, pending.items))
            else:
                pending.items.append(frame)
            return
        if frame.malformed:
            self.stats.protocol_errors += 1
            log.warning("AMI malformed frame skipped: %s", frame.headers[:1])
            return
        self.stats.events += 1
        for listener in self._listeners:
            try:
                listener(frame)
            except Exception:
                self.stats.listener_errors += 1
                log.exception("AMI listener failed on %s", frame.name)
        for sub in self._subs:
            if sub.broken:
                continue
            try:
                sub.queue.put_nowait(frame)
            except asyncio.QueueFull:
                sub.broken = True
                self.stats.subscriber_overflows += 1
                log.error("AMI event subscriber fell behind; its stream is cut")
        if self._handlers:
            await self._queue.put(frame)  # blocks the reader when full: back-pressure

    async def _dispatch(self) -> None:
        me = asyncio.current_task()
        while True:
            frame = await self._queue.get()
            for handler in self._handlers:
                try:
                    await handler(frame)
                except Exception:
                    self.stats.handler_errors += 1
                    log.exception("AMI event handler failed on %s", frame.name)
            self._queue.task_done()
            if me is not None and me.cancelling():  # a handler swallowed our cancellation
                raise asyncio.CancelledError

    async def drain(self, timeout_s: float = 5.0) -> None:
        """Wait until every queued event went through the handlers (tests, shutdown)."""
        await asyncio.wait_for(self._queue.join(), timeout_s)


async def cancel_and_wait(tasks: list[asyncio.Task[None]], grace_s: float = 2.0) -> None:
    """Cancel tasks and wait until they are gone, cancelling again any that swallowed it."""
    pending = {t for t in tasks if not t.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=grace_s)
        if pending:
            log.warning("AMI tasks slow to stop: %s", [t.get_name() for t in pending])
    for task in tasks:
        if not task.cancelled() and task.exception() is not None:
            log.debug("AMI task %s ended with %r", task.get_name(), task.exception())


def _tcp_keepalive(writer: asyncio.StreamWriter, idle_s: int) -> None:
    """Kernel keepalive finds a dead peer even when Ping cannot be sent."""
    sock = writer.get_extra_info("socket")
    if sock is None:
        return
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        for opt, value in (("TCP_KEEPIDLE", idle_s), ("TCP_KEEPINTVL", 5), ("TCP_KEEPCNT", 3)):
            if hasattr(socket, opt):
                sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, opt), value)
