"""Parse a liaison's short SMS reply: what happened (kind) and which order (code).

Accepted forms (full-width characters and spaces are folded first):
  `1` / `收到`            → acknowledged      `2` / `到达` / `已到` → arrived
  `3` / `完成` / `处置完毕` → completed        `4` / `增援`          → reinforcement
  `移交 <单位>`            → handed_over (the rest names the unit taking over)
with an optional order code anywhere (`2 K7QF`, `K7QF已到`). A negation
(未/没/不/无法) makes the reply unparseable on purpose: "未到达" must not count as
arrival; the liaison is asked again instead.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_CODE = re.compile(r"(?<![A-Z0-9])([A-Z0-9]{4,8})(?![A-Z0-9])")
_DIGIT = re.compile(r"^([1-4])(?![0-9])")
_NEGATION = re.compile(r"未|没|不|无法|还没")
_PUNCT = re.compile(r"[\s,.;:!?，。；：！？、\-—~]+")

DIGIT_KINDS = {"1": "acknowledged", "2": "arrived", "3": "completed", "4": "reinforcement"}
# checked in this order: "已到达" must not be read as "收到" and so on
KEYWORDS: list[tuple[str, tuple[str, ...]]] = [
    ("completed", ("处置完毕", "处理完毕", "已完成", "完成", "办结")),
    ("handed_over", ("移交",)),
    ("reinforcement", ("请求增援", "增援", "支援")),
    ("arrived", ("已到达", "到达", "已到", "到场", "抵达")),
    ("acknowledged", ("已收到", "收到", "已收", "明白", "接令")),
]
KIND_LABELS = {
    "acknowledged": "收到",
    "arrived": "到达",
    "completed": "完成",
    "reinforcement": "增援",
    "handed_over": "移交",
}


@dataclass(frozen=True)
class ParsedReply:
    """`kind` is None when the reply could not be understood."""

    kind: str | None
    codes: list[str]
    rest: str


def fold(text: str) -> str:
    """NFKC (full-width → ASCII), upper-case Latin letters, trim."""
    return unicodedata.normalize("NFKC", text).upper().strip()


def candidate_codes(text: str) -> list[str]:
    """Tokens shaped like an order code (4-8 of A-Z0-9), in order, without repeats."""
    seen: list[str] = []
    for code in _CODE.findall(fold(text)):
        if code not in seen:
            seen.append(code)
    return seen


def parse_reply(text: str, known_codes: set[str] | None = None) -> ParsedReply:
    """Parse `text`; only codes in `known_codes` (if given) are taken out as codes."""
    folded = fold(text)
    if known_codes is None:
        codes = candidate_codes(folded)
    else:  # a known code may be glued to the digit ("2K7QF")
        found = [(folded.find(c), c) for c in known_codes if c and c in folded]
        codes = [c for _, c in sorted(found)]
    rest = folded
    for code in codes:
        rest = rest.replace(code, " ")
    rest = _PUNCT.sub(" ", rest).strip()
    compact = rest.replace(" ", "")
    if not compact:
        return ParsedReply(None, codes, "")
    if _NEGATION.search(compact):
        return ParsedReply(None, codes, rest)
    digit = _DIGIT.match(compact)
    if digit:
        return ParsedReply(DIGIT_KINDS[digit.group(1)], codes, rest[1:].strip())
    for kind, words in KEYWORDS:
        for word in words:
            if word in compact:
                after = compact.split(word, 1)[1]
                return ParsedReply(kind, codes, after if kind == "handed_over" else rest)
    return ParsedReply(None, codes, rest)
