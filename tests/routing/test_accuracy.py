"""The default rules against the labelled sets: ≥ 97 % right, no emergency ever to 12345.

`dev.jsonl` was used while writing the rules; `heldout.jsonl` (built from other base
alerts, see `data/build.py`) is the estimate of how the rules do on alerts they were not
written for (see docs/routing.md for how clean that estimate is). The bar is 97 % on the
whole labelled set and a floor of 95 % on each half; the safety property — no emergency,
sea or unplaced alert sent to 12345 — holds on every single alert.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from contracts import Channel
from gateway.routing.engine import AlertFacts, RuleEngine

DATA = Path(__file__).resolve().parent / "data"
ENGINE = RuleEngine.from_file()


def _load(name: str) -> list[dict[str, str]]:
    with (DATA / f"{name}.jsonl").open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _results(rows: list[dict[str, str]]) -> list[tuple[dict[str, str], str]]:
    out = []
    for row in rows:
        d = ENGINE.classify(AlertFacts(text=row["text"], channel=Channel(row["channel"])))
        out.append((row, d.destination.value))
    return out


def test_sets_are_broad() -> None:
    rows = _load("dev") + _load("heldout")
    assert len(rows) >= 600
    assert {r["expected"] for r in rows} == {"command-centre", "12345", "maritime-sar", "ocean-fishery"}
    assert {r["variant"] for r in rows} >= {"orig", "trad", "noisy", "mixed"}


def _wrong(results: list[tuple[dict[str, str], str]]) -> list[tuple[str, str, str]]:
    return [(r["text"], r["expected"], got) for r, got in results if got != r["expected"]]


@pytest.mark.parametrize("name", ["dev", "heldout"])
def test_no_emergency_to_12345_and_floor(name: str) -> None:
    results = _results(_load(name))
    wrong = _wrong(results)
    worst = [w for w in wrong if w[2] == "12345"]
    assert not worst, f"emergencies sent to 12345: {worst}"
    accuracy = 1 - len(wrong) / len(results)
    assert accuracy >= 0.95, f"{name}: {accuracy:.3f}; wrong: {wrong[:20]}"


def test_accuracy_on_the_whole_set() -> None:
    results = _results(_load("dev") + _load("heldout"))
    wrong = _wrong(results)
    accuracy = 1 - len(wrong) / len(results)
    assert accuracy >= 0.97, f"{accuracy:.3f}; wrong: {wrong[:20]}"


def test_emergencies_phrased_like_complaints_never_reach_12345() -> None:
    """Emergencies wrapped in complaint or consultation words ("请问…", "投诉物业…",
    "反映一下…"): the 12345 rules must never take them."""
    results = _results(_load("adversarial"))
    leaked = [(r["text"], got) for r, got in results if got == "12345"]
    assert not leaked
    wrong = _wrong(results)
    assert not wrong, wrong
