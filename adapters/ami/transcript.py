"""Reader of the AMI wire transcripts (`>>>`/`<<<` records) in `ami-captures/`.

The captures from a real Asterisk are the truth the parser, the fake server
and the benchmark are held to; this reads them exactly as their README says.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from adapters.ami.frame import Frame, FrameParser

_MARKER = re.compile(rb"^(>>>|<<<) (\d+\.\d+) len=(\d+)$")
_EOF = re.compile(rb"^--- (\d+\.\d+) EOF (\S+)$")


@dataclass(frozen=True)
class Record:
    """One transcript record: `sent` = bytes the client sent, `recv` = Asterisk sent."""

    direction: Literal["sent", "recv"]
    t: float
    payload: bytes

    def frame(self) -> Frame:
        """The payload parsed as one frame (banner included)."""
        parser = FrameParser(expect_banner=self.payload.startswith(b"Asterisk Call Manager/"))
        frames = parser.feed(self.payload)
        if len(frames) != 1 or parser.buffered:
            raise ValueError(f"record at t={self.t} is not exactly one frame")
        return frames[0]


@dataclass(frozen=True)
class Transcript:
    """A parsed capture: its records in order and how the TCP stream ended."""

    name: str
    records: tuple[Record, ...]
    eof: str | None

    def received(self) -> bytes:
        """Every byte Asterisk sent, concatenated (what a client socket reads)."""
        return b"".join(r.payload for r in self.records if r.direction == "recv")

    def recv_frames(self) -> list[Frame]:
        return [r.frame() for r in self.records if r.direction == "recv"]


def read_transcript(path: str | Path) -> Transcript:
    """Parse a capture file; raises ValueError when a marker or a length is off."""
    p = Path(path)
    data = p.read_bytes()
    pos = 0
    while data[pos : pos + 1] == b"#":
        pos = data.index(b"\n", pos) + 1
    records: list[Record] = []
    eof: str | None = None
    while pos < len(data):
        end = data.index(b"\n", pos)
        line = data[pos:end]
        pos = end + 1
        m = _MARKER.match(line)
        if m:
            n = int(m.group(3))
            payload = data[pos : pos + n]
            if len(payload) != n:
                raise ValueError(f"{p.name}: record truncated at byte {pos}")
            direction: Literal["sent", "recv"] = "sent" if m.group(1) == b">>>" else "recv"
            records.append(Record(direction, float(m.group(2)), payload))
            pos += n
            continue
        e = _EOF.match(line)
        if e:
            eof = e.group(2).decode()
            continue
        if line.strip():
            raise ValueError(f"{p.name}: unexpected line {line[:60]!r}")
    return Transcript(p.stem, tuple(records), eof)
