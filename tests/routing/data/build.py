"""Build the labelled routing sets from the hand-written bases (`base_*.tsv`).

Each base line is `<dest code>\t<channel>\t<text>` (C command-centre, H 12345,
M maritime-sar, F ocean-fishery), written as a 110 dispatcher would label it, without
looking at the rules. Every base goes whole (with its variants) to either `dev.jsonl`
(used while writing rules) or `heldout.jsonl` (not looked at while tuning), by a stable
hash, so no variant of a held-out alert leaks into the dev half. Variants: traditional
script, full-width characters with noisy spacing/punctuation, and half-converted (mixed).

Run: `.venv/bin/python tests/routing/data/build.py` (deterministic).
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import opencc

HERE = Path(__file__).resolve().parent
CODES = {"C": "command-centre", "H": "12345", "M": "maritime-sar", "F": "ocean-fishery"}
S2T = opencc.OpenCC("s2t")
S2TW = opencc.OpenCC("s2tw")


def full_width(text: str) -> str:
    out = []
    for ch in text:
        cp = ord(ch)
        if ch == " ":
            out.append("\u3000")
        elif 0x21 <= cp <= 0x7E:
            out.append(chr(cp + 0xFEE0))
        else:
            out.append(ch)
    return "".join(out)


def noisy(text: str, rng: random.Random) -> str:
    chars = []
    for ch in text:
        chars.append(ch)
        if rng.random() < 0.08:
            chars.append(rng.choice([" ", "  ", "，", "…", "\u200b", "!"]))
    return full_width("".join(chars)) + rng.choice(["", "！！", "？", "。。。"])


def variants(text: str, rng: random.Random) -> list[tuple[str, str]]:
    trad = S2TW.convert(text) if rng.random() < 0.5 else S2T.convert(text)
    half = len(text) // 2
    mixed = text[:half] + S2T.convert(text[half:])
    choice = rng.choice(["trad", "trad", "noisy", "mixed"])
    if trad == text:  # already traditional (or no convertible characters)
        choice = "noisy"
    extra = {"trad": trad, "noisy": noisy(text, rng), "mixed": mixed}[choice]
    return [("orig", text), (choice, extra)]


def main() -> None:
    rng = random.Random(20261123)
    halves: dict[str, list[dict[str, str]]] = {"dev": [], "heldout": []}
    for path in sorted(HERE.glob("base_*.tsv")):
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            code, channel, text = line.split("\t")
            digest = hashlib.sha256(text.encode()).digest()[0]
            half = "dev" if digest % 2 == 0 else "heldout"
            for kind, variant in variants(text, rng):
                halves[half].append(
                    {
                        "text": variant,
                        "channel": channel,
                        "expected": CODES[code],
                        "variant": kind,
                        "base": f"{path.name}:{lineno}",
                    }
                )
    for name, rows in halves.items():
        with (HERE / f"{name}.jsonl").open("w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        print(name, len(rows))


if __name__ == "__main__":
    main()
