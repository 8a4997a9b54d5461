"""AMI wire framing: a pure, incremental parser and an action serialiser.

No I/O here, so the parser is tested byte by byte against the real captures.
AMI frames are `Key: Value\\r\\n` lines ended by an empty `\\r\\n` line; the
connection starts with one banner line (`Asterisk Call Manager/12.0.0\\r\\n`)
that has no blank line after it. Keys repeat (`ChanVariable`, `Output`,
`Variable`), so a frame is an ordered multimap, never a dict.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Literal

FrameKind = Literal["banner", "response", "event", "unknown"]

BANNER_PREFIX = "Asterisk Call Manager/"
MAX_FRAME_BYTES = 1024 * 1024
"""A frame larger than this is a broken peer, not a big event: refuse it."""

_TERMINATOR = b"\r\n\r\n"
_CRLF = "\r\n"


class FrameError(ValueError):
    """The byte stream cannot be AMI (oversized frame, bad banner, CR/LF injection)."""


class Frame:
    """One AMI record: an ordered list of (key, value) headers.

    `kind` follows the first line only: `Response:` vs `Event:`. An
    `OriginateResponse` is an *event* that also carries a `Response:` header.
    """

    __slots__ = ("_first", "generation", "headers", "kind", "malformed")

    def __init__(
        self,
        headers: list[tuple[str, str]],
        kind: FrameKind | None = None,
        *,
        malformed: bool = False,
    ) -> None:
        self.headers = headers
        self.kind: FrameKind = kind or _classify(headers)
        self.malformed = malformed
        self.generation = 0  # which connection delivered it (set by the client)
        self._first: dict[str, str] | None = None

    # --- lookup
    def _index(self) -> dict[str, str]:
        first = self._first
        if first is None:
            first = {}
            for key, value in self.headers:
                first.setdefault(key, value)
            self._first = first
        return first

    def get(self, key: str, default: str | None = None) -> str | None:
        """The first value of `key` (AMI keys are case-sensitive on the wire)."""
        return self._index().get(key, default)

    def __getitem__(self, key: str) -> str:
        return self._index()[key]

    def __contains__(self, key: object) -> bool:
        return key in self._index()

    def get_all(self, key: str) -> list[str]:
        """Every value of a repeated key, in wire order."""
        return [v for k, v in self.headers if k == key]

    @property
    def name(self) -> str:
        """Event name, response status (`Success`, `Error`, ...), or the banner text."""
        if self.kind == "banner":
            return self.headers[0][1]
        return self.headers[0][1] if self.headers else ""

    @property
    def action_id(self) -> str | None:
        return self.get("ActionID")

    def variables(self, prefix: str = "ChanVariable") -> dict[str, str]:
        """`NAME=value` pairs of `ChanVariable`-like headers (also `ChanVariable(<chan>)`)."""
        out: dict[str, str] = {}
        paren = prefix + "("
        for key, value in self.headers:
            if key == prefix or key.startswith(paren):
                name, _, val = value.partition("=")
                out.setdefault(name, val)
        return out

    def to_bytes(self) -> bytes:
        """Wire form (the banner is a single line, everything else ends in a blank line)."""
        if self.kind == "banner":
            return (self.headers[0][1] + _CRLF).encode()
        return encode_headers(self.headers)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Frame):
            return NotImplemented
        return self.kind == other.kind and self.headers == other.headers

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Frame({self.kind}:{self.name}, {len(self.headers)} headers)"


def _classify(headers: list[tuple[str, str]]) -> FrameKind:
    if not headers:
        return "unknown"
    first = headers[0][0]
    if first == "Response":
        return "response"
    if first == "Event":
        return "event"
    return "unknown"


def parse_frame_text(text: str) -> Frame:
    """Parse one frame's text (without the terminating blank line)."""
    headers: list[tuple[str, str]] = []
    malformed = False
    for line in text.split(_CRLF):
        key, sep, value = line.partition(": ")
        if not sep:
            # `Key:` with nothing after it is still a header; anything else is junk
            if line.endswith(":"):
                key, value = line[:-1], ""
            else:
                malformed = True
                key, value = line, ""
        headers.append((key, value))
    return Frame(headers, malformed=malformed)


class FrameParser:
    """Feed bytes in any chunking, get complete frames out, in order."""

    __slots__ = ("_buf", "_expect_banner", "max_frame_bytes")

    def __init__(self, *, expect_banner: bool = True, max_frame_bytes: int = MAX_FRAME_BYTES):
        self._buf = bytearray()
        self._expect_banner = expect_banner
        self.max_frame_bytes = max_frame_bytes

    @property
    def buffered(self) -> int:
        """Bytes received but not yet part of a complete frame."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[Frame]:
        """Append `data`; return every frame it completed. Raises FrameError on garbage."""
        buf = self._buf
        buf += data
        frames: list[Frame] = []
        if self._expect_banner:
            end = buf.find(b"\r\n")
            if end < 0:
                if len(buf) > 256:
                    raise FrameError("no AMI banner in the first 256 bytes")
                return frames
            line = buf[:end].decode("utf-8", "replace")
            if not line.startswith(BANNER_PREFIX):
                raise FrameError(f"not an AMI banner: {line[:80]!r}")
            frames.append(Frame([("Banner", line)], "banner"))
            del buf[: end + 2]
            self._expect_banner = False
        start = 0
        find = buf.find
        while True:
            end = find(_TERMINATOR, start)
            if end < 0:
                break
            if end > start:
                frames.append(parse_frame_text(buf[start:end].decode("utf-8", "replace")))
            # a stray empty line between frames carries nothing; skip it
            start = end + 4
        if start:
            del buf[:start]
        if len(buf) > self.max_frame_bytes:
            raise FrameError(f"frame larger than {self.max_frame_bytes} bytes")
        return frames


def parse_version(banner: str) -> str:
    """`Asterisk Call Manager/12.0.0` → `12.0.0`."""
    if not banner.startswith(BANNER_PREFIX):
        raise FrameError(f"not an AMI banner: {banner[:80]!r}")
    return banner[len(BANNER_PREFIX) :].strip()


def _check(text: str, what: str) -> str:
    if "\r" in text or "\n" in text:
        raise FrameError(f"CR/LF in {what} would inject AMI headers: {text[:40]!r}")
    return text


def encode_headers(headers: Iterable[tuple[str, str]]) -> bytes:
    """Serialise headers as one frame; refuses CR/LF and empty keys (header injection)."""
    parts: list[str] = []
    for key, value in headers:
        if not key or ": " in key:
            raise FrameError(f"bad AMI key: {key[:40]!r}")
        parts.append(f"{_check(key, 'key')}: {_check(value, 'value')}\r\n")
    parts.append(_CRLF)
    return "".join(parts).encode()


HeaderInput = Mapping[str, str | Iterable[str]] | Iterable[tuple[str, str]]


def iter_headers(headers: HeaderInput) -> Iterator[tuple[str, str]]:
    """Mapping values that are lists become repeated keys (`Variable: A=1`, `Variable: B=2`)."""
    if isinstance(headers, Mapping):
        for key, value in headers.items():
            if isinstance(value, str):
                yield key, value
            else:
                for item in value:
                    yield key, item
    else:
        yield from headers


def encode_action(action: str, action_id: str | None, headers: HeaderInput = ()) -> bytes:
    """`Action:` first, then `ActionID:` (if any), then the headers in order."""
    head: list[tuple[str, str]] = [("Action", action)]
    if action_id is not None:
        head.append(("ActionID", action_id))
    for key, value in iter_headers(headers):
        if key in ("Action", "ActionID"):
            raise FrameError(f"{key} is set by encode_action, not in headers")
        head.append((key, value))
    return encode_headers(head)
