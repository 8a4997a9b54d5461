"""Build the blind routing sets (`blind2.jsonl`, `blind3.jsonl`) from `blind<N>.tsv`.

Each line of a blind TSV is `<dest code>\t<channel>\t<text>` (C command-centre, H 12345,
M maritime-sar, F ocean-fishery), written and labelled as a 110/12345 dispatcher would,
*before* the rules were changed for it and without looking at the rules' phrase lists.
Lines written directly in traditional script stay as written; of the others, a stable
~35 % are converted to traditional (s2t / s2tw / s2hk), ~10 % get full-width characters
with noisy spacing, and ~5 % are half converted (mixed script), so the whole file is
roughly 40 % traditional. Every line is one alert (no line is a variant of another).

Run: `.venv/bin/python tests/routing/data/build_blind.py` (deterministic).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import opencc

HERE = Path(__file__).resolve().parent
CODES = {"C": "command-centre", "H": "12345", "M": "maritime-sar", "F": "ocean-fishery"}
CONVERTERS = [opencc.OpenCC("s2t"), opencc.OpenCC("s2tw"), opencc.OpenCC("s2hk")]
T2S = opencc.OpenCC("t2s")


def full_width(text: str) -> str:
    out = []
    for i, ch in enumerate(text):
        cp = ord(ch)
        if ch == " ":
            out.append("\u3000")
        elif 0x21 <= cp <= 0x7E:
            out.append(chr(cp + 0xFEE0))
        else:
            out.append(ch)
        if ch in "，。" and i % 3 == 0:
            out.append(" ")
    return "".join(out)


def _bucket(text: str) -> int:
    return int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:8], 16) % 100


def variant(text: str) -> tuple[str, str]:
    if T2S.convert(text) != text:
        return text, "trad"
    b = _bucket(text)
    if b < 35:
        return CONVERTERS[b % 3].convert(text), "trad"
    if b < 45:
        return full_width(CONVERTERS[b % 3].convert(text) if b % 2 else text), "noisy"
    if b < 50:
        half = len(text) // 2
        return text[:half] + CONVERTERS[0].convert(text[half:]), "mixed"
    return text, "orig"


def build(name: str) -> None:
    rows = []
    src = HERE / f"{name}.tsv"
    for n, line in enumerate(src.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        code, channel, text = line.split("\t")
        out, var = variant(text)
        rows.append({"text": out, "channel": channel, "expected": CODES[code],
                     "variant": var, "base": f"{src.name}:{n}"})
    with (HERE / f"{name}.jsonl").open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    for arg in sys.argv[1:] or ["blind2", "blind3"]:
        if (HERE / f"{arg}.tsv").exists():
            build(arg)
