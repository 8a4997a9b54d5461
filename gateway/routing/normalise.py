"""Text normalisation before matching: one canonical form for every way a citizen types.

Alerts arrive in simplified and traditional Chinese, with full-width letters and digits,
odd spacing and punctuation, zero-width characters pasted from chat apps. Rules are written
once, in simplified Chinese; both the rule phrases and the alert text go through
:func:`normalise` so that "路燈壞了", "路灯 坏了！" and "路灯坏了" all match the same phrase.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from pathlib import Path

import opencc

from contracts import Script

_DICT_DIR = Path(opencc.__file__).resolve().parent / "dictionary"

# Unicode categories folded away: separators, punctuation, control and format
# characters (zero-width joiners and the like are used to dodge keyword filters).
_DROP_CATEGORIES = frozenset(
    {"Zs", "Zl", "Zp", "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "Cc", "Cf"}
)


_MAX_ROUNDS = 4


def _read_pairs(name: str) -> dict[str, list[str]]:
    pairs: dict[str, list[str]] = {}
    with (_DICT_DIR / name).open(encoding="utf-8") as fh:
        for line in fh:
            key, _, values = line.rstrip("\n").partition("\t")
            if key and values:
                pairs[key] = values.split()
    return pairs


@lru_cache(maxsize=1)
def _script_tables() -> tuple[frozenset[str], frozenset[str]]:
    """Characters that only occur in traditional / only in simplified text."""
    ts = _read_pairs("TSCharacters.txt")
    st = _read_pairs("STCharacters.txt")
    hant = frozenset(k for k, v in ts.items() if len(k) == 1 and k not in v and k not in st)
    hans = frozenset(k for k, v in st.items() if len(k) == 1 and k not in v and k not in ts)
    return hant, hans


@lru_cache(maxsize=1)
def _converter() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def _is_cjk(ch: str) -> bool:
    cp = ord(ch)
    return 0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2FFFF


def detect_script(text: str) -> Script:
    """Which Chinese script the text is written in (before any conversion).

    Characters shared by both scripts say nothing; text with Chinese characters but no
    distinguishing one counts as simplified (the local default).
    """
    hant, hans = _script_tables()
    has_hant = has_hans = has_cjk = False
    for ch in text:
        if ch in hant:
            has_hant = True
        elif ch in hans:
            has_hans = True
        elif not has_cjk and _is_cjk(ch):
            has_cjk = True
        if has_hant and has_hans:
            return Script.MIXED
    if has_hant:
        return Script.TRADITIONAL
    if has_hans or has_cjk:
        return Script.SIMPLIFIED
    return Script.OTHER


def _fold(text: str) -> str:
    """NFKC (full-width → half-width, compatibility forms), lower case, drop spacing/punct."""
    text = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return "".join(ch for ch in text if unicodedata.category(ch) not in _DROP_CATEGORIES)


def to_simplified(text: str) -> str:
    """Traditional → simplified (OpenCC t2s); text without traditional characters is
    returned as is, which keeps the common case fast."""
    hant, _ = _script_tables()
    if not any(ch in hant for ch in text):
        return text
    return str(_converter().convert(text))


def normalise(text: str) -> str:
    """The canonical matching form of a text. Idempotent; never raises on a str."""
    current = text
    # Folding and conversion can feed each other for rare characters (a t2s output
    # that NFKC changes again): iterate to a fixed point so that the function is
    # idempotent for every input. Real text settles after one round.
    for _ in range(_MAX_ROUNDS):
        nxt = to_simplified(_fold(current))
        if nxt == current:
            break
        current = nxt
    return current
