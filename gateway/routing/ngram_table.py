"""Which known n-grams occur in each text of a batch, found with numpy, not per match.

The text model finds a single text's n-grams with an Aho-Corasick automaton, which hands
back one Python tuple per match (~75 for a 26-character alert): the per-match objects,
not the automaton, are most of that cost. For a batch (`linkgate route` on JSON lines)
this table does the same work on arrays: every 1-, 2- and 3-gram of every text becomes
one int64 key (its code points + 1 side by side, 21 bits each), looked up in an
open-addressing hash table, and the (text, n-gram) pairs are made distinct with one sort.
At 64 texts and more that is ~8 µs per text against ~30 (docs/benchmarks.md).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import numpy.typing as npt

Ints = npt.NDArray[np.int64]

BATCH_CHARS = 65_536  # characters looked up together (~3 MB of arrays)
CODE_BITS = 21  # every code point + 1 (≤ 0x110000) fits; three of them fit an int64
MAX_N = 3  # the text model's longest n-gram: 3 × 21 bits fit an int64 key
_EMPTY = -1
_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: spreads close keys apart


def slices(texts: Sequence[str], max_chars: int = BATCH_CHARS) -> Iterator[slice]:
    """Consecutive slices of `texts`, each of about `max_chars` characters (at least one
    text), so that a batch of long texts keeps its arrays (~40 bytes per character) small."""
    start = 0
    while start < len(texts):
        end, chars = start, 0
        while end < len(texts) and (end == start or chars < max_chars):
            chars += len(texts[end])
            end += 1
        yield slice(start, end)
        start = end


def gram_key(gram: str) -> int:
    """The key of one n-gram: its code points + 1 side by side (the first one highest).
    The + 1 keeps every key apart: with code point 0 as itself, "\\x00a" would be "a"."""
    key = 0
    for ch in gram:
        key = (key << CODE_BITS) | (ord(ch) + 1)
    return key


class NgramTable:
    """The rows of known n-grams (`grams[i]` is row i), looked up a batch at a time."""

    def __init__(self, grams: Sequence[str]) -> None:
        if any(not 1 <= len(g) <= MAX_N for g in grams):
            raise ValueError(f"n-grams must have 1 to {MAX_N} characters")
        self.size = len(grams)
        # at most a quarter full: a lookup ends after ~1.2 probes on average
        self._bits = max(4, (4 * max(1, len(grams)) - 1).bit_length())
        self._mask = (1 << self._bits) - 1
        self._shift = np.uint64(64 - self._bits)
        self._keys: Ints = np.full(1 << self._bits, _EMPTY, dtype=np.int64)
        self._rows: Ints = np.zeros(1 << self._bits, dtype=np.int64)
        self._insert(np.fromiter(map(gram_key, grams), dtype=np.int64, count=len(grams)))

    def _slot(self, keys: Ints) -> Ints:
        return ((keys.astype(np.uint64) * _MULTIPLIER) >> self._shift).astype(np.int64)

    def _insert(self, keys: Ints) -> None:
        """Linear probing, in rounds: each round every pending key tries its slot, one key
        per free slot wins, the rest move one slot on."""
        if len(np.unique(keys)) != len(keys):
            raise ValueError("n-grams must be distinct")
        pending = np.arange(len(keys), dtype=np.int64)
        slots = self._slot(keys)
        while len(pending):
            free = self._keys[slots] == _EMPTY
            _, first = np.unique(slots[free], return_index=True)
            winners, won = pending[free][first], slots[free][first]
            self._keys[won] = keys[winners]
            self._rows[won] = winners
            placed = np.zeros(len(keys), dtype=bool)
            placed[winners] = True
            stay = ~placed[pending]
            pending, slots = pending[stay], (slots[stay] + 1) & self._mask

    def rows(self, keys: Ints) -> Ints:
        """The row of each key, -1 for an n-gram the table does not hold."""
        found = np.full(len(keys), -1, dtype=np.int64)
        todo = np.arange(len(keys), dtype=np.int64)
        slots = self._slot(keys)
        while len(todo):
            held = self._keys[slots]
            hit = held == keys[todo]
            found[todo[hit]] = self._rows[slots[hit]]
            go_on = ~hit & (held != _EMPTY)
            todo, slots = todo[go_on], (slots[go_on] + 1) & self._mask
        return found

    def occurrences(self, texts: Sequence[str]) -> tuple[Ints, Ints]:
        """The distinct (text index, row) pairs of known n-grams, ordered by text then row."""
        owners, rows = self.matches(texts)
        pairs = np.sort(owners * self.size + rows)
        if len(pairs):
            pairs = pairs[np.concatenate(([True], pairs[1:] != pairs[:-1]))]
        owner, row = np.divmod(pairs, max(1, self.size))
        return owner, row

    def matches(self, texts: Sequence[str]) -> tuple[Ints, Ints]:
        """Every (text index, row) pair of a known n-gram occurrence, with multiplicity and
        in no particular order (a count model sums them as they come)."""
        lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
        raw = "".join(texts).encode("utf-32-le", "surrogatepass")
        codes: Ints = np.frombuffer(raw, dtype=np.uint32).astype(np.int64) + 1
        text_of = np.repeat(np.arange(len(texts), dtype=np.int64), lengths)
        keys, owners = [codes], [text_of]
        key, same = codes, np.ones(len(codes), dtype=bool)
        for n in range(2, MAX_N + 1):
            # the n-grams starting at each position; those crossing into the next text drop
            key = (key[:-1] << CODE_BITS) | codes[n - 1:]
            same = same[:-1] & (text_of[n - 1:] == text_of[:1 - n])
            keys.append(key[same])
            owners.append(text_of[:1 - n][same])
        rows = self.rows(np.concatenate(keys))
        known = rows >= 0
        return np.concatenate(owners)[known], rows[known]


__all__ = ["BATCH_CHARS", "NgramTable", "gram_key", "slices"]
