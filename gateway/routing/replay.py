"""Replay the blind batches as they arrived: how would the text model have done?

Run: `python -m gateway.routing.replay` (needs git history and the `train` extra).

For each batch written blind (`ARRIVALS`), the engine is built from what existed the
moment it arrived — the rules file and statistical-fallback model of that commit (read
with `git show`; the rules schema only ever gained optional fields, so old files load)
— and a text model trained only on the labelled files older than the batch. The batch
is then classified twice: by that rules layer alone (what the batch scored on arrival)
and with today's `model:` section (the arbiter) on top. Every alert is judged by rules
and models that had never seen it: the estimate the text model's thresholds were
chosen on (docs/routing.md, round 6).
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from contracts import Channel
from gateway.routing import train_fallback as tf
from gateway.routing.engine import AlertFacts, RuleEngine
from gateway.routing.fallback import FallbackModel
from gateway.routing.rules import DEFAULT_RULES_FILE, ModelArbiter, load_rules_file, parse_rules
from gateway.routing.text_model import TextModel

ROOT = Path(__file__).resolve().parents[2]
# (commit the batch arrived at, the batch): in arrival order; a batch's text model is
# trained on the TRAIN files before it (TRAIN lists them in arrival order)
ARRIVALS: list[tuple[str, list[str]]] = [
    ("654df1c", ["blind14", "blind15"]),
    ("25bac47", ["blind18"]),
    ("9acfd1a", ["blind19"]),
    ("ccb558d", ["blind21"]),
    ("34add1f", ["blind22"]),
    ("d3be004", ["blind23", "blind24"]),
]
HOTLINE = "12345"


@dataclass
class Score:
    n: int = 0
    right: int = 0
    leaks: int = 0

    def add(self, expected: str, got: str) -> None:
        self.n += 1
        self.right += expected == got
        self.leaks += got == HOTLINE and expected != HOTLINE

    def __str__(self) -> str:
        return f"{self.right / max(self.n, 1):6.1%} {self.leaks:3d} to 12345"


def _at(commit: str, path: str) -> str:
    return subprocess.run(["git", "show", f"{commit}:{path}"], cwd=ROOT, check=True,
                          capture_output=True, text=True).stdout


def engines(commit: str, unseen: set[str], arbiter: ModelArbiter) -> tuple[RuleEngine, RuleEngine]:
    """The rules layer of `commit`, and the same with the arbiter and a text model that
    never saw the `unseen` files."""
    from gateway.routing import train_text_model as ttm

    ruleset = parse_rules(_at(commit, "gateway/rules/default.yaml"), source=commit)
    with tempfile.TemporaryDirectory() as tmp:
        model_file = Path(tmp) / "fallback_model.json"
        model_file.write_text(_at(commit, "gateway/rules/fallback_model.json"), encoding="utf-8")
        fallback = FallbackModel.load(model_file)
    layer = RuleEngine(ruleset.model_copy(update={"model": None}), model=fallback)
    text_model = TextModel.from_dict(ttm.train([n for n in tf.TRAIN if n not in unseen]))
    with_model = RuleEngine(ruleset.model_copy(update={"model": arbiter}), model=fallback,
                            text_model=text_model)
    return layer, with_model


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "").parse_args(argv)
    arbiter = load_rules_file(DEFAULT_RULES_FILE).model
    if arbiter is None:
        print("the rules file has no `model:` section")
        return 1
    totals = (Score(), Score())
    rows_out: list[str] = []
    for commit, batch in reversed(ARRIVALS):
        # `TRAIN` is in arrival order: the batch and every file after it are unseen
        later = set(tf.TRAIN[tf.TRAIN.index(batch[0]):])
        layer, with_model = engines(commit, later, arbiter)
        scores = (Score(), Score())
        for name in batch:
            for r in tf.load(name):
                facts = AlertFacts(text=r["text"], channel=Channel(r["channel"]))
                for engine, score, total in zip((layer, with_model), scores, totals,
                                                strict=True):
                    got = engine.classify(facts).destination.value
                    score.add(r["expected"], got)
                    total.add(r["expected"], got)
        rows_out.append(f"{'+'.join(batch):16s} {commit}  {scores[0].n:5d}  "
                        f"rules {scores[0]}   with the model {scores[1]}")
    print("\n".join(reversed(rows_out)))
    print(f"{'all':16s} {'':7s}  {totals[0].n:5d}  rules {totals[0]}   with the model {totals[1]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
