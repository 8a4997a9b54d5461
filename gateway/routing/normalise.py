"""Text normalisation before matching: one canonical form for every way a citizen types.

Alerts arrive in simplified and traditional Chinese, with full-width letters and digits,
odd spacing and punctuation, zero-width characters pasted from chat apps. Rules are written
once, in simplified Chinese; both the rule phrases and the alert text go through
:func:`normalise` so that "路燈壞了", "路灯 坏了！" and "路灯坏了" all match the same phrase.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from pathlib import Path

import ahocorasick
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


class _T2S:
    """OpenCC's t2s (TSPhrases, then TSCharacters; first candidate), compiled for speed.

    The pure-Python OpenCC matcher costs ~300 µs per sentence; here the phrase table is an
    Aho-Corasick automaton (longest match wins) and the character table a `str.translate`
    map, both built from OpenCC's own t2s dictionaries. `tests/routing/test_normalise.py`
    checks the output is OpenCC's on every traditional text of the labelled sets.
    """

    def __init__(self) -> None:
        self._chars = str.maketrans(
            {k: v[0] for k, v in _read_pairs("TSCharacters.txt").items() if len(k) == 1}
        )
        self._phrases = ahocorasick.Automaton()
        for key, values in _read_pairs("TSPhrases.txt").items():
            self._phrases.add_word(key, (len(key), values[0]))
        self._phrases.make_automaton()

    def convert(self, text: str) -> str:
        parts: list[str] = []
        pos = 0
        for end, (length, value) in self._phrases.iter_long(text):
            start = end - length + 1
            parts.append(text[pos:start].translate(self._chars))
            parts.append(value)
            pos = end + 1
        parts.append(text[pos:].translate(self._chars))
        return "".join(parts)


@lru_cache(maxsize=1)
def _converter() -> _T2S:
    return _T2S()


@lru_cache(maxsize=1)
def _drop_table() -> dict[int, None]:
    """Every code point whose category is folded away, for one C-level `translate`."""
    # planes 0-1 hold every space/punctuation/control character; plane 14 the invisible
    # tag characters (format, used to smuggle text past filters). Planes 2-13 and 15-16
    # are ideographs and private use: nothing there to drop, and skipping them keeps
    # start-up fast.
    spans = (range(0x0000, 0x20000), range(0xE0000, 0xE1000))
    return {
        cp: None for span in spans for cp in span
        if unicodedata.category(chr(cp)) in _DROP_CATEGORIES
    }


_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\U00020000-\U0002ffff]")


def detect_script(text: str) -> Script:
    """Which Chinese script the text is written in (before any conversion).

    Characters shared by both scripts say nothing; text with Chinese characters but no
    distinguishing one counts as simplified (the local default).
    """
    hant, hans = _script_tables()
    has_hant = not hant.isdisjoint(text)
    has_hans = not hans.isdisjoint(text)
    if has_hant and has_hans:
        return Script.MIXED
    if has_hant:
        return Script.TRADITIONAL
    if has_hans or _CJK.search(text):
        return Script.SIMPLIFIED
    return Script.OTHER


def _fold(text: str) -> str:
    """NFKC (full-width → half-width, compatibility forms), case folded, spacing and
    punctuation dropped. Full-width punctuation is dropped before NFKC, so the costly
    normalisation only runs for text that still needs it (full-width letters/digits)."""
    drop = _drop_table()
    text = text.translate(drop)
    normalised = False
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
        normalised = True
    folded = text.casefold()
    if folded != text and not unicodedata.is_normalized("NFKC", folded):
        folded = unicodedata.normalize("NFKC", folded)
        normalised = True
    return folded.translate(drop) if normalised else folded


def to_simplified(text: str) -> str:
    """Traditional → simplified (OpenCC t2s); text without traditional characters is
    returned as is, which keeps the common case fast."""
    hant, _ = _script_tables()
    if hant.isdisjoint(text):
        return text
    return _converter().convert(text)


def _char_class(code_points: list[int]) -> str:
    """A regex character class body for the code points, as ranges (sorted input)."""
    out: list[str] = []
    start = prev = code_points[0]
    for cp in [*code_points[1:], -2]:
        if cp == prev + 1:
            prev = cp
            continue
        out.append(re.escape(chr(start)) if start == prev
                   else f"{re.escape(chr(start))}-{re.escape(chr(prev))}")
        start = prev = cp
    return "".join(out)


@lru_cache(maxsize=1)
def _drop_bmp_class() -> str:
    """The dropped characters of the Basic Multilingual Plane, as a regex class body."""
    return _char_class(sorted(cp for cp in _drop_table() if cp < 0x10000))


@lru_cache(maxsize=1)
def _fast_path() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    """Three regexes for the common cases of :func:`normalise` (BMP-only classes compile
    to bitmaps: one C-level scan each, ~2.5x faster than `str.translate` with a dict):

    - the dropped characters of the Basic Multilingual Plane;
    - *plain* characters — CJK unified ideographs, ASCII letters and digits: NFKC-stable
      starters with no decomposition, whose only fold is ASCII case;
    - *settled* characters — plain ones without upper case or a traditional character:
      every step of a round is the identity on them (`to_simplified` returns the text).
    """
    drop = _drop_bmp_class()
    hant, _ = _script_tables()
    cjk = set(range(0x3400, 0x4DC0)) | set(range(0x4E00, 0xA000))
    digits, lower = set(range(0x30, 0x3A)), set(range(0x61, 0x7B))
    plain = cjk | digits | lower | set(range(0x41, 0x5B))
    settled = (cjk - {ord(c) for c in hant}) | digits | lower
    return (
        re.compile(f"[{drop}]+"),
        re.compile(f"[{_char_class(sorted(plain))}]*"),
        re.compile(f"[{_char_class(sorted(settled))}]*"),
    )


def clause_start_finder(words: list[str]) -> re.Pattern[str]:
    """A pattern finding any of `words` (simplified Chinese) where a clause starts in a
    text before normalisation, i.e. right after a space or a punctuation mark (what
    :func:`normalise` drops): group 1 is the word. Search `to_simplified(text)`."""
    drop = _drop_bmp_class()
    alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(f"[{drop}]({alternatives})")


def _round(text: str) -> str:
    """One round of normalisation: fold, then traditional → simplified."""
    return to_simplified(_fold(text))


def normalise(text: str) -> str:
    """The canonical matching form of a text. Idempotent; never raises on a str."""
    drop_bmp, plain, settled = _fast_path()
    # Once the BMP's spacing and punctuation are dropped, what is left is usually plain
    # (an astral character to drop would still be there, and fail the match). Then the
    # fold of the first round is just ASCII case, and when only settled characters are
    # left the result is already final: the same strings as the generic rounds below.
    dropped = drop_bmp.sub("", text)
    if settled.fullmatch(dropped):
        return dropped
    current = text
    nxt = to_simplified(dropped.casefold()) if plain.fullmatch(dropped) else _round(text)
    # Folding and conversion can feed each other for rare characters (a t2s output
    # that NFKC changes again): iterate to a fixed point so that the function is
    # idempotent for every input. Real text settles after one round; a round's output
    # made of settled characters is a fixed point, so the confirming round is skipped
    # (it would return that same string).
    for _ in range(_MAX_ROUNDS - 1):
        if nxt == current or settled.fullmatch(nxt):
            return nxt
        current = nxt
        nxt = _round(current)
    return nxt
