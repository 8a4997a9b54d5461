"""A fake Asterisk Manager Interface, driven by the real Asterisk 23.4.1 captures.

It answers and emits events the way `ami-captures/` shows, never the way our
client happens to expect: events come from the capture files (ids, channel names,
timestamps substituted), responses use the captured header order and texts.

Usage (a colleague's test can do the same):

    fake = FakeAmi(scenarios={"PJSIP/duty-1": "04", "PJSIP/duty-2": "03"})
    port = await fake.start()
    ...                                   # point a client at 127.0.0.1:port
    await fake.inject("02")               # the inbound 110 call of capture 02
    await fake.drop()                     # cut every TCP link
    fake.received_actions                 # every action frame the clients sent
    await fake.stop()

`scenarios` maps an Originate `Channel:` (dial string) to the capture whose
originate block is played: 03 answered, 04 busy, 05 no answer, 06 offline
(never rang), 06b offline after SIP timer B, 12 via a Local channel. A dial
string not in the map plays capture 09's unknown-endpoint failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import random
import re
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from adapters.ami.frame import Frame, FrameParser, encode_headers
from adapters.ami.transcript import Record, read_transcript

from .captures import capture_path

H = list[tuple[str, str]]

DEFAULT_SCENARIOS: dict[str, str] = {
    "PJSIP/unit-answer": "03",
    "PJSIP/unit-busy": "04",
    "PJSIP/unit-noanswer": "05",
    "PJSIP/unit-offline": "06",
    "PJSIP/unit-offline-sip": "06b",
    "Local/unit-answer@unit-dial": "12",
}

SNAPSHOT_KEYS = frozenset(
    {
        "Channel", "ChannelState", "ChannelStateDesc", "CallerIDNum", "CallerIDName",
        "ConnectedLineNum", "ConnectedLineName", "Language", "AccountCode", "Context",
        "Exten", "Priority", "Uniqueid", "Linkedid", "ChanVariable",
    }
)
BRIDGE_KEYS = (
    "BridgeUniqueid", "BridgeType", "BridgeTechnology", "BridgeCreator", "BridgeName",
    "BridgeNumChannels", "BridgeVideoSourceMode",
)
CAUSE_TXT = {
    0: "Unknown", 16: "Normal Clearing", 17: "User busy", 18: "No user responding",
    19: "User alerting, no answer", 21: "Call Rejected", 34: "Circuit/channel congestion",
}
# write class an action needs (None: allowed to any logged-in user)
ACTION_CLASS: dict[str, tuple[str, ...] | None] = {
    "ping": None, "logoff": None, "challenge": None, "login": None, "events": None,
    "originate": ("originate",), "command": ("command",),
    "coreshowchannels": ("system", "reporting"), "bridgelist": ("reporting",),
    "status": ("system", "call", "reporting"), "redirect": ("call",), "hangup": ("system", "call"),
    "blindtransfer": ("call",), "getvar": ("call", "reporting"), "setvar": ("call",),
    "confbridgelist": ("reporting",), "coresettings": ("system", "reporting"),
    "corestatus": ("system", "reporting"),
}
ALL_CLASSES = frozenset(
    {"system", "call", "log", "verbose", "command", "agent", "user", "config", "dtmf",
     "reporting", "cdr", "dialplan", "originate", "agi", "cc", "aoc", "test", "security",
     "message"}
)


@dataclass
class User:
    """A manager.conf user: secret and read/write classes."""

    secret: str
    read: frozenset[str] = ALL_CLASSES
    write: frozenset[str] = ALL_CLASSES


@dataclass
class LiveChannel:
    """What the fake PBX knows of a live channel (built from emitted events)."""

    snapshot: H
    bridge: str | None = None
    application: str = ""
    app_data: str = ""
    created: float = field(default_factory=time.monotonic)

    def get(self, key: str) -> str:
        return next((v for k, v in self.snapshot if k == key), "")


@lru_cache(maxsize=64)
def _records(name: str) -> tuple[Record, ...]:
    return read_transcript(capture_path(name)).records


def _frame(record: Record) -> Frame:
    return record.frame()


def template(capture: str, event: str) -> Frame:
    """The first event named `event` in a capture (header layout to copy)."""
    for rec in _records(capture):
        if rec.direction == "recv" and rec.payload.startswith(f"Event: {event}\r\n".encode()):
            return _frame(rec)
    raise KeyError(f"no {event} in capture {capture}")


def action_block(capture: str, action: str, nth: int = 0) -> tuple[Frame, list[tuple[float, Frame]]]:
    """The `nth` `>>> Action: <action>` of a capture and the `<<<` frames that followed it."""
    recs = _records(capture)
    seen = 0
    for i, rec in enumerate(recs):
        if rec.direction == "sent" and rec.payload.startswith(f"Action: {action}\r\n".encode()):
            if seen < nth:
                seen += 1
                continue
            out: list[tuple[float, Frame]] = []
            for nxt in recs[i + 1 :]:
                if nxt.direction == "sent":
                    break
                out.append((nxt.t, _frame(nxt)))
            return _frame(rec), out
    raise KeyError(f"no Action {action} #{nth} in capture {capture}")


def call_events(capture: str) -> list[tuple[float, Frame]]:
    """The unsolicited events a capture shows after login (e.g. the 110 call of 02)."""
    _, block = action_block(capture, "Login")
    return [
        (t, f)
        for t, f in block
        if f.kind == "event" and f.name not in ("FullyBooted", "SuccessfulAuth")
    ]


def rename_ids(frame: Frame, suffix: str) -> Frame:
    """Make a capture's call look like a different call (ids and channel names suffixed)."""
    out: H = []
    for key, value in frame.headers:
        if key.startswith("ChanVariable("):
            key = key[:-1] + f"-{suffix})"
        if (key.endswith(("Uniqueid", "Linkedid")) and value not in ("", "none", "<unknown>")) or (
            key.endswith("Channel") and "/" in value
        ):
            value = f"{value}-{suffix}"
        out.append((key, value))
    return Frame(out, frame.kind)


def _now() -> str:
    return f"{time.time():.6f}"


def _privilege_classes(frame: Frame) -> set[str]:
    priv = frame.get("Privilege")
    if priv is None:
        return set()
    return {p.strip().lower() for p in priv.split(",")} - {"all"}


class _Session:
    """One client TCP connection."""

    def __init__(self, server: FakeAmi, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.server = server
        self.reader = reader
        self.writer = writer
        self.user: User | None = None
        self.username = ""
        self.mask: frozenset[str] = frozenset()
        self.challenge: str | None = None
        self.closed = False

    def wants(self, frame: Frame) -> bool:
        if self.user is None or self.closed:
            return False
        classes = _privilege_classes(frame)
        return bool(classes & self.mask & self.user.read)

    def send(self, frame: Frame | H) -> None:
        if self.closed:
            return
        headers = frame.headers if isinstance(frame, Frame) else frame
        self.writer.write(encode_headers(headers))

    def respond(self, action_id: str | None, response: str, *rest: tuple[str, str]) -> None:
        """`Response:` first, `ActionID:` always second (where Asterisk puts it)."""
        headers: H = [("Response", response)]
        if action_id is not None:
            headers.append(("ActionID", action_id))
        headers.extend(rest)
        self.send(headers)

    def close(self) -> None:
        self.closed = True
        with contextlib.suppress(Exception):
            self.writer.close()


class FakeAmi:
    """The fake server. Every knob a test needs is a constructor argument or attribute."""

    def __init__(
        self,
        *,
        users: dict[str, User] | None = None,
        scenarios: dict[str, str] | None = None,
        auth_fail_delay: float = 0.05,
        time_scale: float = 0.0,
        host: str = "127.0.0.1",
    ) -> None:
        self.users = users if users is not None else {"gw": User("s3cret")}
        self.scenarios = {**DEFAULT_SCENARIOS, **(scenarios or {})}
        self.auth_fail_delay = auth_fail_delay
        self.time_scale = time_scale
        self.host = host
        self.conference_context = "linkage-conf"
        self.port = 0
        self.received_actions: list[Frame] = []
        self.silent_actions: set[str] = set()  # lower-case names recorded but never answered
        self.connections = 0
        self.logins = 0
        self.channels: dict[str, LiveChannel] = {}
        self.bridges: dict[str, H] = {}
        self.sessions: list[_Session] = []
        self.banner = _records("01")[0].payload
        self._server: asyncio.base_events.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._seq = itertools.count(0x100)
        self._action_seen = asyncio.Condition()

    # ------------------------------------------------------------------ lifecycle
    async def start(self, port: int = 0) -> int:
        """Listen on an ephemeral port (or `port`); returns the port."""
        self._server = await asyncio.start_server(self._serve, self.host, port or self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        await self.down()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task

    async def down(self) -> None:
        """Stop listening and cut every link (Asterisk unreachable)."""
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1)
            self._server = None
        await self.drop()

    async def up(self) -> None:
        """Listen again on the same port."""
        await self.start(self.port)

    async def drop(self) -> None:
        """Cut every TCP link at once (no Goodbye), like a network failure."""
        for session in list(self.sessions):
            session.closed = True
            transport = session.writer.transport
            transport.abort()
        self.sessions.clear()
        await asyncio.sleep(0)

    # ------------------------------------------------------------------ helpers for tests
    async def wait_for_action(self, name: str, count: int = 1, timeout: float = 5) -> Frame:
        """Wait until `count` actions named `name` arrived; returns the last."""

        def matching() -> list[Frame]:
            return [f for f in self.received_actions if (f.get("Action") or "").lower() == name.lower()]

        async with self._action_seen:
            await asyncio.wait_for(self._action_seen.wait_for(lambda: len(matching()) >= count), timeout)
        return matching()[count - 1]

    def actions(self, name: str) -> list[Frame]:
        return [f for f in self.received_actions if (f.get("Action") or "").lower() == name.lower()]

    async def inject(
        self,
        capture: str = "02",
        *,
        start: int = 0,
        stop: int | None = None,
        rename: str | None = None,
        until: Callable[[Frame], bool] | None = None,
    ) -> list[Frame]:
        """Play a capture's unsolicited events (e.g. 02's inbound call, 11's burst).

        Events update the fake PBX's channel state even when no client is connected,
        which is how a call that begins or ends while the link is down is played.
        """
        frames = [f for _, f in call_events(capture)][start:stop]
        if rename:
            frames = [rename_ids(f, rename) for f in frames]
        if until is not None:
            cut = next((i for i, f in enumerate(frames) if until(f)), len(frames) - 1)
            frames = frames[: cut + 1]
        emitted = [self._stamp(f) for f in frames]
        await self.emit(emitted)
        return emitted

    async def emit(self, frames: Iterable[Frame]) -> None:
        """Update PBX state and send each event to every session whose mask wants it."""
        for frame in frames:
            self._track(frame)
            data = frame.to_bytes()
            for session in self.sessions:
                if session.wants(frame):
                    session.writer.write(data)
        for session in list(self.sessions):
            with contextlib.suppress(Exception):
                await session.writer.drain()

    async def send_raw(self, data: bytes) -> None:
        """Write pre-encoded frames to every logged-in session (benchmarks: no PBX state)."""
        for session in self.sessions:
            if session.user is not None:
                session.writer.write(data)
        for session in list(self.sessions):
            with contextlib.suppress(Exception):
                await session.writer.drain()

    # ------------------------------------------------------------------ PBX state
    def _track(self, frame: Frame) -> None:
        name = frame.name
        uid = frame.get("Uniqueid")
        if name == "Newchannel" and uid:
            self.channels[uid] = LiveChannel(_snapshot(frame))
        elif name == "Hangup" and uid:
            self.channels.pop(uid, None)
        elif uid and uid in self.channels and frame.get("Channel"):
            chan = self.channels[uid]
            chan.snapshot = _snapshot(frame)
            if name == "Newexten":
                chan.application = frame.get("Application") or ""
                chan.app_data = frame.get("AppData") or ""
            elif name == "BridgeEnter":
                chan.bridge = frame.get("BridgeUniqueid")
            elif name == "BridgeLeave":
                chan.bridge = None
        bid = frame.get("BridgeUniqueid")
        if bid and name in ("BridgeCreate", "BridgeEnter", "BridgeLeave"):
            self.bridges[bid] = [(k, frame.get(k) or "") for k in BRIDGE_KEYS]
        elif bid and name == "BridgeDestroy":
            self.bridges.pop(bid, None)

    def _stamp(self, frame: Frame) -> Frame:
        if "Timestamp" not in frame:
            return frame
        return Frame([(k, _now() if k == "Timestamp" else v) for k, v in frame.headers], frame.kind)

    def _find_channel(self, name: str) -> LiveChannel | None:
        return next((c for c in self.channels.values() if c.get("Channel") == name), None)

    # ------------------------------------------------------------------ connection
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        session = _Session(self, reader, writer)
        self.sessions.append(session)
        parser = FrameParser(expect_banner=False)
        try:
            writer.write(self.banner)
            while not session.closed:
                data = await reader.read(65536)
                if not data:
                    break
                for frame in parser.feed(data):
                    await self._handle(session, frame)
                    if session.closed:
                        break
                with contextlib.suppress(ConnectionError):
                    await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            session.closed = True
            if session in self.sessions:
                self.sessions.remove(session)
            with contextlib.suppress(Exception):
                writer.close()

    async def _handle(self, session: _Session, frame: Frame) -> None:
        self.received_actions.append(frame)
        async with self._action_seen:
            self._action_seen.notify_all()
        aid = frame.get("ActionID")
        action = frame.get("Action")
        if action is None:
            session.respond(aid, "Error", ("Message", "Missing action in request"))
            return
        key = action.lower()
        if key in self.silent_actions:
            return
        if session.user is None and key not in ("login", "challenge", "logoff"):
            session.respond(aid, "Error", ("Message", "Permission denied"))
            return
        handler = getattr(self, f"_a_{key}", None)
        if handler is None:
            session.respond(
                aid, "Error",
                ("Message", f"Invalid/unknown command: {action}. "
                 "Use Action: ListCommands to show available commands."),
            )
            return
        needs = ACTION_CLASS.get(key)
        if session.user is not None and needs and not set(needs) & session.user.write:
            session.respond(aid, "Error", ("Message", "Permission denied"))
            return
        await handler(session, frame, aid)

    # ------------------------------------------------------------------ login / session
    async def _a_challenge(self, s: _Session, f: Frame, aid: str | None) -> None:
        s.challenge = str(random.randint(100_000_000, 999_999_999))
        s.respond(aid, "Success", ("Challenge", s.challenge))

    async def _a_login(self, s: _Session, f: Frame, aid: str | None) -> None:
        username = f.get("Username") or ""
        user = self.users.get(username)
        ok = False
        if user is not None:
            if (f.get("AuthType") or "").lower() == "md5":
                expected = hashlib.md5(((s.challenge or "") + user.secret).encode()).hexdigest()
                ok = s.challenge is not None and f.get("Key") == expected
            else:
                ok = f.get("Secret") == user.secret
        if not ok:
            await asyncio.sleep(self.auth_fail_delay)
            s.respond(aid, "Error", ("Message", "Authentication failed"))
            with contextlib.suppress(Exception):
                await s.writer.drain()
            s.close()
            return
        assert user is not None
        s.user, s.username = user, username
        s.mask = _mask(f.get("Events"))
        self.logins += 1
        s.respond(aid, "Success", ("Message", "Authentication accepted"))
        for name in ("FullyBooted", "SuccessfulAuth"):
            event = self._stamp(template("01", name))
            if s.wants(event):
                s.send(event)

    async def _a_logoff(self, s: _Session, f: Frame, aid: str | None) -> None:
        s.respond(aid, "Goodbye", ("Message", "Thanks for all the fish."))
        with contextlib.suppress(Exception):
            await s.writer.drain()
        s.close()

    async def _a_ping(self, s: _Session, f: Frame, aid: str | None) -> None:
        s.respond(aid, "Success", ("Ping", "Pong"), ("Timestamp", _now()))

    async def _a_events(self, s: _Session, f: Frame, aid: str | None) -> None:
        s.mask = _mask(f.get("EventMask"))
        s.respond(aid, "Success", ("Events", "On" if s.mask else "Off"))

    async def _canned(self, s: _Session, capture: str, action: str, aid: str | None) -> None:
        """Answer exactly as the capture did (ActionID swapped, clocks refreshed)."""
        _, block = action_block(capture, action)
        for _, fr in block:
            if fr.kind != "response":
                continue
            headers = [(k, v) for k, v in self._stamp(fr).headers if k != "ActionID"]
            if aid is not None:
                headers.insert(1, ("ActionID", aid))
            s.send(headers)

    async def _a_coresettings(self, s: _Session, f: Frame, aid: str | None) -> None:
        await self._canned(s, "01", "CoreSettings", aid)

    async def _a_corestatus(self, s: _Session, f: Frame, aid: str | None) -> None:
        await self._canned(s, "01", "CoreStatus", aid)

    async def _a_getvar(self, s: _Session, f: Frame, aid: str | None) -> None:
        chan = self._find_channel(f.get("Channel") or "")
        if chan is None:
            s.respond(aid, "Error", ("Message", "No such channel"))
            return
        name = f.get("Variable") or ""
        value = next(
            (v.partition("=")[2] for k, v in chan.snapshot
             if k == "ChanVariable" and v.partition("=")[0] == name), "",
        )
        s.respond(aid, "Success", ("Variable", name), ("Value", value))

    async def _a_setvar(self, s: _Session, f: Frame, aid: str | None) -> None:
        s.respond(aid, "Success", ("Message", "Variable Set"))

    async def _a_command(self, s: _Session, f: Frame, aid: str | None) -> None:
        s.respond(aid, "Success", ("Message", "Command output follows"),
                  ("Output", f"{len(self.channels)} active channels"))

    # ------------------------------------------------------------------ lists
    def _list(self, s: _Session, aid: str | None, message: str, items: list[H],
              complete: str, extra: H | None = None) -> None:
        s.respond(aid, "Success", ("EventList", "start"), ("Message", message))
        for item in items:
            s.send(item)
        tail: H = [("Event", complete)]
        if aid is not None:
            tail.append(("ActionID", aid))
        tail += [("EventList", "Complete"), ("ListItems", str(len(items))), *(extra or [])]
        s.send(tail)

    async def _a_coreshowchannels(self, s: _Session, f: Frame, aid: str | None) -> None:
        items: H = []
        out: list[H] = []
        for chan in self.channels.values():
            items = [("Event", "CoreShowChannel")]
            if aid is not None:
                items.append(("ActionID", aid))
            items += chan.snapshot
            items += [
                ("Application", chan.application), ("ApplicationData", chan.app_data),
                ("Duration", _duration(chan.created)), ("BridgeId", chan.bridge or ""),
            ]
            out.append(items)
        self._list(s, aid, "Channels will follow", out, "CoreShowChannelsComplete")

    async def _a_bridgelist(self, s: _Session, f: Frame, aid: str | None) -> None:
        out: list[H] = []
        for bridge in self.bridges.values():
            item: H = [("Event", "BridgeListItem")]
            if aid is not None:
                item.append(("ActionID", aid))
            out.append(item + bridge)
        self._list(s, aid, "Bridge listing will follow", out, "BridgeListComplete")

    async def _a_status(self, s: _Session, f: Frame, aid: str | None) -> None:
        wanted = f.get("Channel")
        chans = list(self.channels.values())
        if wanted:
            chans = [c for c in chans if c.get("Channel") == wanted]
            if not chans:
                s.respond(aid, "Error", ("Message", "No such channel"))
                return
        tmpl = template("08", "Status")
        out: list[H] = []
        for chan in chans:
            item = _rebase(tmpl, chan.snapshot)
            item = [(k, v) for k, v in item if k != "ActionID"]
            if aid is not None:
                item.append(("ActionID", aid))
            out.append(item)
        n = str(len(out))
        self._list(s, aid, "Channel status will follow", out, "StatusComplete", [("Items", n)])

    async def _a_confbridgelist(self, s: _Session, f: Frame, aid: str | None) -> None:
        conf = f.get("Conference") or ""
        bridge = next((b for b in self.bridges.values() if dict(b).get("BridgeName") == conf), None)
        if bridge is None:
            s.respond(aid, "Error", ("Message", "No active conferences."))
            return
        bid = dict(bridge)["BridgeUniqueid"]
        out: list[H] = []
        for chan in self.channels.values():
            if chan.bridge == bid:
                item: H = [("Event", "ConfbridgeList")]
                if aid is not None:
                    item.append(("ActionID", aid))
                out.append([*item, ("Conference", conf), *chan.snapshot])
        self._list(s, aid, "Confbridge user list will follow", out, "ConfbridgeListComplete")

    # ------------------------------------------------------------------ call control
    async def _a_hangup(self, s: _Session, f: Frame, aid: str | None) -> None:
        target = f.get("Channel")
        cause = int(f.get("Cause") or 16)
        if not target:
            s.respond(aid, "Error", ("Message", "No channel specified"))
            return
        if len(target) > 2 and target.startswith("/") and target.endswith("/"):
            rx = re.compile(target[1:-1])
            hits = [c for c in self.channels.values() if rx.search(c.get("Channel"))]
            items: list[H] = []
            for c in hits:
                item: H = [("Event", "ChannelHungup"), ("Channel", c.get("Channel"))]
                if aid is not None:
                    item.append(("ActionID", aid))
                items.append(item)
            self._list(s, aid, "Channels hung up will follow", items, "ChannelsHungupListComplete")
        else:
            chan = self._find_channel(target)
            if chan is None:
                s.respond(aid, "Error", ("Message", "No such channel"))
                return
            hits = [chan]
            s.respond(aid, "Success", ("Message", "Channel Hungup"))
        await s.writer.drain()
        for chan in hits:
            await self.emit(self._hangup_events(chan, cause, soft=True))

    def _hangup_events(self, chan: LiveChannel, cause: int, *, soft: bool) -> list[Frame]:
        """BridgeLeave (if bridged), Soft/HangupRequest, Hangup, laid out as in capture 03."""
        frames: list[Frame] = []
        if chan.bridge and chan.bridge in self.bridges:
            bridge = list(self.bridges[chan.bridge])
            count = max(0, int(dict(bridge)["BridgeNumChannels"]) - 1)
            bridge = [(k, str(count) if k == "BridgeNumChannels" else v) for k, v in bridge]
            frames.append(Frame([*_head("BridgeLeave"), *bridge, *chan.snapshot]))
        req = "SoftHangupRequest" if soft else "HangupRequest"
        frames.append(Frame([*_head(req), *chan.snapshot, ("Cause", str(cause))]))
        frames.append(
            Frame([*_head("Hangup"), *chan.snapshot, ("Cause", str(cause)),
                   ("Cause-txt", CAUSE_TXT.get(cause, "Unknown"))])
        )
        return frames

    async def hangup_remote(self, channel: str, cause: int = 16) -> None:
        """The far end hangs up (a BYE): HangupRequest + Hangup, as in 02."""
        chan = self._find_channel(channel)
        if chan is None:
            raise KeyError(channel)
        await self.emit(self._hangup_events(chan, cause, soft=False))

    async def _a_redirect(self, s: _Session, f: Frame, aid: str | None) -> None:
        target = f.get("Channel")
        if not target:
            s.respond(aid, "Error", ("Message", "Channel not specified"))
            return
        if not f.get("Context"):
            s.respond(aid, "Error", ("Message", "Context not specified"))
            return
        for name in filter(None, (target, f.get("ExtraChannel"))):
            if self._find_channel(name) is None:
                s.respond(aid, "Error", ("Message", f"Channel does not exist: {name}"))
                return
        dual = bool(f.get("ExtraChannel"))
        s.respond(aid, "Success", ("Message", "Dual Redirect successful" if dual else "Redirect successful"))
        await s.writer.drain()
        # as 03 shows: both leave their bridge (destroyed when empty), then run the
        # dialplan at Context/Exten; a ConfBridge room named Exten is joined (or started)
        context, exten = f.get("Context") or "", f.get("Exten") or ""
        moved = [c for c in (self._find_channel(f.get("ExtraChannel") or ""),
                             self._find_channel(target)) if c is not None]
        for chan in moved:
            await self._leave_bridge(chan, Context=context, Exten=exten)
        for chan in moved:
            chan.snapshot = _with(chan.snapshot, Context=context, Exten=exten)
            if context == self.conference_context:
                await self._join_conference(chan, exten)

    async def _leave_bridge(self, chan: LiveChannel, **snap: str) -> None:
        if not chan.bridge or chan.bridge not in self.bridges:
            return
        bridge = list(self.bridges[chan.bridge])
        count = max(0, int(dict(bridge)["BridgeNumChannels"]) - 1)
        bridge = [(k, str(count) if k == "BridgeNumChannels" else v) for k, v in bridge]
        await self.emit([Frame([*_head("BridgeLeave"), *bridge, *_with(chan.snapshot, **snap)])])
        if count == 0:
            await self.emit([Frame([*_head("BridgeDestroy"), *bridge])])

    async def _join_conference(self, chan: LiveChannel, room: str) -> None:
        bridge = next((b for b in self.bridges.values() if dict(b).get("BridgeName") == room), None)
        if bridge is None:
            tmpl = dict(template("03", "ConfbridgeStart").headers)
            bridge = [(k, tmpl[k]) for k in BRIDGE_KEYS]
            bridge = _with(bridge, BridgeUniqueid=str(uuid.uuid4()), BridgeName=room,
                           BridgeNumChannels="0")
            await self.emit([Frame([*_head("BridgeCreate"), *bridge])])
            await self.emit([Frame([*_head("ConfbridgeStart"), ("Conference", room),
                                    *_with(bridge, BridgeNumChannels="1")])])
            bridge = self.bridges[dict(bridge)["BridgeUniqueid"]]
        count = str(int(dict(bridge)["BridgeNumChannels"]) + 1)
        entered = _with(bridge, BridgeNumChannels=count)
        await self.emit([Frame([*_head("BridgeEnter"), *entered, *chan.snapshot])])
        await self.emit([Frame([*_head("ConfbridgeJoin"), ("Conference", room), *entered,
                                *chan.snapshot, ("Admin", "No"), ("Muted", "No")])])

    async def _a_blindtransfer(self, s: _Session, f: Frame, aid: str | None) -> None:
        """As 07: Transfer succeeded, BlindTransfer, both leave the bridge, the transferer
        hangs up, its peer runs Context/Exten."""
        target = f.get("Channel") or ""
        chan = self._find_channel(target)
        if chan is None:
            s.respond(aid, "Error", ("Message", "Channel specified does not exist"))
            return
        s.respond(aid, "Success", ("Message", "Transfer succeeded"))
        await s.writer.drain()
        context, exten = f.get("Context") or "", f.get("Exten") or ""
        peer = next((c for c in self.channels.values()
                     if c is not chan and chan.bridge and c.bridge == chan.bridge), None)
        if peer is not None and chan.bridge in self.bridges:
            event: H = [*_head("BlindTransfer"), ("Result", "Success")]
            event += [(f"Transferer{k}", v) for k, v in chan.snapshot]
            event += [(f"Transferee{k}", v) for k, v in peer.snapshot]
            event += [*self.bridges[chan.bridge], ("IsExternal", "Yes"),
                      ("Context", context), ("Extension", exten)]
            await self.emit([Frame(event)])
            await self._leave_bridge(chan)
            await self._leave_bridge(peer, Context=context, Exten=exten)
            peer.snapshot = _with(peer.snapshot, Context=context, Exten=exten)
        await self.emit(self._hangup_events(chan, 16, soft=False)[-1:])

    async def _a_originate(self, s: _Session, f: Frame, aid: str | None) -> None:
        dial = f.get("Channel")
        if not dial:
            s.respond(aid, "Error", ("Message", "Channel not specified"))
            return
        if not f.get("Application") and not (f.get("Exten") and f.get("Context") and f.get("Priority")):
            s.respond(aid, "Error", ("Message", "Originate with 'Exten' requires 'Context' and 'Priority'"))
            return
        tech = dial.split("/", 1)[0]
        if tech not in ("PJSIP", "Local", "SIP", "IAX2", "DAHDI"):
            s.respond(aid, "Error", ("Message", "Originate failed"))
            return
        is_async = (f.get("Async") or "").lower() in ("true", "yes", "1")
        if is_async:
            s.respond(aid, "Success", ("Message", "Originate successfully queued"))
            await s.writer.drain()
        play = self._originate_playback(f, aid)
        if is_async:
            task = asyncio.create_task(self._play(play))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        else:
            await self._play(play)
            ok = any(fr.name == "OriginateResponse" and fr.get("Response") == "Success" for _, fr in play)
            if ok:
                s.respond(aid, "Success", ("Message", "Originate successfully queued"))
            else:
                s.respond(aid, "Error", ("Message", "Originate failed"))

    def _originate_playback(self, req: Frame, aid: str | None) -> list[tuple[float, Frame]]:
        dial = req["Channel"]
        capture = self.scenarios.get(dial)
        if capture is None:
            cap_req, block = action_block("09", "Originate", nth=3)  # unknown endpoint
        else:
            cap_req, block = action_block(capture, "Originate")
        block = [(t, fr) for t, fr in block if fr.kind == "event"]
        # substitutions: capture values -> this request's values
        exact: dict[str, str] = {}
        cap_dial = cap_req["Channel"]
        exact[cap_dial] = dial
        cap_id = cap_req.get("ChannelId")
        new_id = req.get("ChannelId") or f"{int(time.time())}.{next(self._seq)}"
        if cap_id:
            exact[cap_id] = new_id
        cap_other = cap_req.get("OtherChannelId")
        if cap_other:
            exact[cap_other] = req.get("OtherChannelId") or f"{int(time.time())}.{next(self._seq)}"
        for key in ("Context", "Exten"):
            if cap_req.get(key) and req.get(key):
                exact[cap_req[key]] = req[key]
        seq = f"{next(self._seq):08x}"
        chan_rx = re.compile(re.escape(cap_dial.split("@")[0]) + r"(@[^-;]*)?-([0-9a-f]{8})")
        new_base = dial.split("@")[0]
        bridge_ids: dict[str, str] = {}
        cap_vars = _request_vars(cap_req)
        new_vars = _request_vars(req)

        def sub_value(key: str, value: str) -> str:
            if value in exact:
                return exact[value]
            if key.endswith("Channel") or key == "Channel":
                m = chan_rx.match(value)
                if m:
                    return f"{new_base}{m.group(1) or ''}-{seq}{value[m.end():]}"
            if key == "BridgeUniqueid":
                return bridge_ids.setdefault(value, str(uuid.uuid4()))
            if key == "ActionID":
                return aid or ""
            if key.endswith("ChanVariable") or key.startswith("ChanVariable("):
                name, eq, val = value.partition("=")
                if eq and val and name in cap_vars:
                    return f"{name}={new_vars.get(name, '')}"
            return value

        out: list[tuple[float, Frame]] = []
        for t, fr in block:
            headers: H = []
            for key, value in fr.headers:
                if key == "ActionID" and aid is None:
                    continue
                if key.startswith("ChanVariable("):
                    inner = key[len("ChanVariable(") : -1]
                    key = f"ChanVariable({sub_value('Channel', inner)})"
                headers.append((key, sub_value(key, value)))
            out.append((t, Frame(headers, fr.kind)))
        return out

    async def _play(self, frames: list[tuple[float, Frame]]) -> None:
        prev = frames[0][0] if frames else 0.0
        for t, fr in frames:
            gap = (t - prev) * self.time_scale
            prev = t
            if gap > 0:
                await asyncio.sleep(gap)
            await self.emit([self._stamp(fr)])


# ---------------------------------------------------------------------- pure helpers
def _mask(value: str | None) -> frozenset[str]:
    v = (value or "on").strip().lower()
    if v in ("on", "yes", "true", "all"):
        return ALL_CLASSES
    if v in ("off", "no", "false", ""):
        return frozenset()
    return frozenset(p.strip() for p in v.split(",")) & ALL_CLASSES


def _snapshot(frame: Frame) -> H:
    return [(k, v) for k, v in frame.headers if k in SNAPSHOT_KEYS]


def _with(snapshot: H, **values: str) -> H:
    return [(k, values.get(k, v)) for k, v in snapshot]


def _head(event: str) -> H:
    return [("Event", event), ("Privilege", "call,all"), ("Timestamp", _now())]


def _rebase(tmpl: Frame, snapshot: H) -> H:
    """The template's headers with its channel snapshot replaced by `snapshot`."""
    out: H = []
    placed = False
    for key, value in tmpl.headers:
        if key in SNAPSHOT_KEYS:
            if not placed:
                out.extend(snapshot)
                placed = True
            continue
        out.append((key, value))
    return out


def _request_vars(req: Frame) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in req.get_all("Variable"):
        for part in value.split(","):
            name, _, val = part.partition("=")
            out[name.strip()] = val
    return out


def _duration(created: float) -> str:
    secs = int(time.monotonic() - created)
    return f"{secs // 3600:02d}:{secs % 3600 // 60:02d}:{secs % 60:02d}"


def captures_available() -> bool:
    return Path(capture_path("01")).exists()
