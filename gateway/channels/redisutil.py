"""Redis answers are bytes (the clients run without decode_responses)."""

from __future__ import annotations

from typing import Any


def as_str(value: Any) -> str:
    """bytes → str (UTF-8); str unchanged; None → ""."""
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else str(value)
