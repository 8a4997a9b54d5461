"""Parse WeChat callback XML safely into a flat message.

defusedxml refuses DTDs and entities (no billion laughs, no external entities); we also
bound size, depth and element count, since WeChat's messages are small and flat.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

MAX_BYTES = 64 * 1024
MAX_DEPTH = 4
MAX_ELEMENTS = 200


class WeChatMessageError(ValueError):
    """XML we will not process; `reason` is machine-readable."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class WeChatMessage:
    """The fields of a callback message we use (all text as sent)."""

    fields: dict[str, str] = field(default_factory=dict)

    def get(self, name: str) -> str | None:
        value = self.fields.get(name)
        return value if value not in (None, "") else None

    @property
    def msg_type(self) -> str:
        return (self.get("MsgType") or "").lower()

    @property
    def from_user(self) -> str | None:
        return self.get("FromUserName")

    @property
    def create_time(self) -> datetime | None:
        """`CreateTime` is in seconds since the epoch."""
        raw = self.get("CreateTime")
        if raw is None or not raw.isdigit():
            return None
        return datetime.fromtimestamp(int(raw), UTC)

    def dedup_key(self) -> str | None:
        """MsgId for messages; FromUserName+CreateTime+Event for events."""
        if msg_id := self.get("MsgId"):
            return f"msg:{msg_id}"
        if self.msg_type == "event":
            parts = (self.get("FromUserName"), self.get("CreateTime"), self.get("Event"))
            if all(parts):
                return "evt:" + ":".join(p or "" for p in parts)
        return None


def parse_xml(raw: bytes) -> Element:
    """Parse with entity/DTD protection and size/depth limits."""
    if len(raw) > MAX_BYTES:
        raise WeChatMessageError("xml-too-large")
    try:
        root: Element = SafeET.fromstring(raw, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise WeChatMessageError("xml-forbidden-construct") from exc
    except ParseError as exc:
        raise WeChatMessageError("xml-malformed") from exc
    count = 0
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if depth > MAX_DEPTH:
            raise WeChatMessageError("xml-too-deep")
        if count > MAX_ELEMENTS:
            raise WeChatMessageError("xml-too-many-elements")
        stack.extend((child, depth + 1) for child in node)
    return root


def message_from(root: Element) -> WeChatMessage:
    """Top-level child elements as a flat dict (nested ones by their own tag)."""
    fields: dict[str, str] = {}
    for node in root.iter():
        if node is root:
            continue
        fields.setdefault(node.tag, (node.text or "").strip())
    return WeChatMessage(fields)
