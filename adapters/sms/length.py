"""SMS length in the units carriers bill: UTF-16 code units under UCS-2 encoding.

Chinese text is always UCS-2: 70 units fit one SMS, 67 per segment once it is split
(the concatenation header takes 3). An emoji outside the BMP is a surrogate pair and
costs 2 units. GSM-7 text (plain ASCII) would fit more, but a liaison's order is
Chinese, so we count conservatively in UCS-2 for everything.
"""

from __future__ import annotations

import math

SINGLE_UNITS = 70
SEGMENT_UNITS = 67


def utf16_units(text: str) -> int:
    """Number of UTF-16 code units (characters above U+FFFF count twice)."""
    return len(text.encode("utf-16-le")) // 2


def segments(text: str) -> int:
    """How many SMS segments the text takes (0 for empty text)."""
    units = utf16_units(text)
    if units == 0:
        return 0
    if units <= SINGLE_UNITS:
        return 1
    return math.ceil(units / SEGMENT_UNITS)


def truncate_units(text: str, max_units: int, ellipsis: str = "…") -> str:
    """Cut `text` to at most `max_units` UTF-16 units, never splitting a surrogate pair."""
    if utf16_units(text) <= max_units:
        return text
    budget = max_units - utf16_units(ellipsis)
    out: list[str] = []
    used = 0
    for ch in text:
        cost = 2 if ord(ch) > 0xFFFF else 1
        if used + cost > budget:
            break
        out.append(ch)
        used += cost
    return "".join(out) + ellipsis
