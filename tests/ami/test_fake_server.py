"""The fake AMI server answers as the real Asterisk captures show (byte for byte, bar clocks)."""

from __future__ import annotations

import asyncio
import hashlib

import pytest

from adapters.ami.frame import Frame, FrameParser
from adapters.ami.transcript import read_transcript

from .captures import capture_path
from .fake_server import ALL_CLASSES, FakeAmi, User

VOLATILE = {"Timestamp", "Challenge"}


def _norm(frame: Frame) -> list[tuple[str, str]]:
    return [(k, "*" if k in VOLATILE else v) for k, v in frame.headers]


async def _replay(fake: FakeAmi, name: str, secret: str) -> list[tuple[list[Frame], list[Frame]]]:
    """Send a capture's frames to the fake; pair what each got back with the capture's."""
    transcript = read_transcript(capture_path(name))
    reader, writer = await asyncio.open_connection("127.0.0.1", fake.port)
    parser = FrameParser()
    banner = parser.feed(await reader.readexactly(30))
    assert banner[0].to_bytes() == transcript.records[0].payload
    pairs: list[tuple[list[Frame], list[Frame]]] = []
    records = transcript.records
    challenge = ""
    for i, rec in enumerate(records):
        if rec.direction != "sent":
            continue
        expected: list[Frame] = []
        for nxt in records[i + 1 :]:
            if nxt.direction == "sent":
                break
            fr = nxt.frame()
            if fr.kind == "response" or fr.get("ActionID"):
                expected.append(fr)
        sent = rec.frame()
        headers = []
        for k, v in sent.headers:
            if k == "Secret":
                v = secret
            elif k == "Key":
                v = hashlib.md5((challenge + secret).encode()).hexdigest()
            headers.append((k, v))
        writer.write(Frame(headers).to_bytes())
        got: list[Frame] = []
        while len(got) < len(expected):
            data = await asyncio.wait_for(reader.read(65536), 3)
            assert data, f"EOF while waiting for the answer to {sent.headers[:2]}"
            got += [f for f in parser.feed(data) if f.kind == "response" or f.get("ActionID")]
        if expected and expected[0].get("Challenge"):
            challenge = got[0]["Challenge"]
        pairs.append((got, expected))
    if transcript.eof == "peer-closed":
        assert await asyncio.wait_for(reader.read(), 3) == b""
    writer.close()
    return pairs


@pytest.mark.parametrize("name", ["01", "01b", "01c", "01d", "09", "09b"])
async def test_fake_answers_like_the_capture(name: str) -> None:
    users = {
        "gw": User("s3cret"),
        "limited": User("lim", read=frozenset({"call"}), write=frozenset({"call"})),
    }
    fake = FakeAmi(users=users, auth_fail_delay=0.01)
    await fake.start()
    try:
        secret = "lim" if name == "09b" else ("wrong" if name == "01b" else "s3cret")
        pairs = await asyncio.wait_for(_replay(fake, name, secret), 10)
        for got, expected in pairs:
            assert [_norm(f) for f in got] == [_norm(f) for f in expected]
    finally:
        await fake.stop()


async def test_events_follow_the_login_mask() -> None:
    fake = FakeAmi()
    await fake.start()
    try:
        seen: dict[str, list[Frame]] = {}
        for events in ("on", "off", "call"):
            reader, writer = await asyncio.open_connection("127.0.0.1", fake.port)
            writer.write(
                f"Action: Login\r\nUsername: gw\r\nSecret: s3cret\r\nEvents: {events}\r\n\r\n".encode()
            )
            parser = FrameParser()
            frames = parser.feed(await reader.readuntil(b"accepted\r\n\r\n"))
            await fake.inject("02")
            writer.write(b"Action: Logoff\r\n\r\n")
            frames += parser.feed(await asyncio.wait_for(reader.read(), 3))
            seen[events] = [f for f in frames if f.kind == "event"]
            writer.close()
        assert len(seen["on"]) == 2 + 87  # FullyBooted, SuccessfulAuth + 02's call events
        assert seen["off"] == []
        names = {f.name for f in seen["call"]}
        assert "VarSet" not in names and "FullyBooted" not in names and "Hangup" in names
        # capture 10 is the same call recorded (another run) with Events: call
        ten = [f for f in read_transcript(capture_path("10")).recv_frames() if f.kind == "event"]
        assert sorted(f.name for f in seen["call"]) == sorted(f.name for f in ten)
    finally:
        await fake.stop()


def test_all_classes_cover_the_captured_privileges() -> None:
    for frame in read_transcript(capture_path("11")).recv_frames():
        for p in (frame.get("Privilege") or "").lower().split(","):
            assert not p or p == "all" or p in ALL_CLASSES
