"""Classification rate: alerts/s through normalise + Aho-Corasick + rules, ~5k phrases.

The default rules plus one synthetic rule that brings the automaton to about 5,000
phrases; alerts are the labelled texts mixed into longer synthetic ones (traditional,
full-width, 10–400 characters). Measures the engine alone and `linkgate route` on JSON
lines (parse + classify + print), which classifies in batches (`classify_many`, also
measured alone). Run: `.venv/bin/python bench/bench_classifier.py [N]`.
"""

from __future__ import annotations

import io
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import opencc  # noqa: E402

from contracts import Channel  # noqa: E402
from gateway.routing.cli import BATCH, route_command  # noqa: E402
from gateway.routing.engine import AlertFacts, RuleEngine  # noqa: E402
from gateway.routing.rules import DEFAULT_RULES_FILE  # noqa: E402

DATA = ROOT / "tests" / "routing" / "data"
TARGET_PHRASES = 5000


def synthetic_rules(rng: random.Random) -> str:
    base = DEFAULT_RULES_FILE.read_text(encoding="utf-8")
    engine = RuleEngine.from_text(base)
    need = max(0, TARGET_PHRASES - engine.phrase_count)
    chars = [chr(c) for c in range(0x4E00, 0x9FA5)]
    phrases = sorted({"".join(rng.choices(chars, k=rng.choice((3, 4, 5)))) for _ in range(need)})
    return base.rstrip("\n") + (
        "\n\n  - id: bench.synthetic\n    priority: 1100\n    destination: \"12345\"\n"
        "    category: bench\n    emergency: false\n    when:\n      any: ["
        + ", ".join(phrases) + "]\n"
    )


def synthetic_alerts(n: int, rng: random.Random) -> list[str]:
    texts = [json.loads(line)["text"] for f in ("dev", "heldout")
             for line in (DATA / f"{f}.jsonl").open(encoding="utf-8")]
    s2t = opencc.OpenCC("s2t")
    pool = texts + [s2t.convert(t) for t in texts[:200]]
    out = []
    for _ in range(n):
        parts = rng.sample(pool, rng.choice((1, 1, 1, 2, 3)))
        out.append("，".join(parts))
    return out


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    rng = random.Random(7)
    engine = RuleEngine.from_text(synthetic_rules(rng), source="bench")
    alerts = synthetic_alerts(n, rng)
    lengths = [len(a) for a in alerts]
    facts = [AlertFacts(text=a, channel=Channel.SMS) for a in alerts]
    for f in facts[:1000]:  # warm caches (opencc dictionaries)
        engine.classify(f)

    runs, cpu_runs = [], []
    for _ in range(3):
        t0, c0 = time.perf_counter(), time.process_time()
        for f in facts:
            engine.classify(f)
        runs.append(n / (time.perf_counter() - t0))
        cpu_runs.append(n / (time.process_time() - c0))
    engine_rate = statistics.median(runs)
    engine_cpu_rate = statistics.median(cpu_runs)

    batch_runs, batch_cpu_runs = [], []
    for _ in range(3):  # `classify_many` in `linkgate route`'s batches
        t0, c0 = time.perf_counter(), time.process_time()
        for i in range(0, n, BATCH):
            engine.classify_many(facts[i:i + BATCH])
        batch_runs.append(n / (time.perf_counter() - t0))
        batch_cpu_runs.append(n / (time.process_time() - c0))

    lines = "\n".join(json.dumps({"text": a, "channel": "sms"}, ensure_ascii=False) for a in alerts)
    rules_path = ROOT / "bench" / ".bench_rules.yaml"
    rules_path.write_text(synthetic_rules(random.Random(7)), encoding="utf-8")
    try:
        out = io.StringIO()
        t0, c0 = time.perf_counter(), time.process_time()
        route_command(text=None, channel="sms", rules_file=rules_path,
                      stdin=io.StringIO(lines), stdout=out)
        cli_rate = n / (time.perf_counter() - t0)
        cli_cpu_rate = n / (time.process_time() - c0)
    finally:
        rules_path.unlink()

    print(json.dumps({
        "alerts": n,
        "phrases": engine.phrase_count,
        "rules": engine.rule_count,
        "text_chars_median": statistics.median(lengths),
        "text_chars_max": max(lengths),
        "engine_alerts_per_s_wall": round(engine_rate),
        "engine_alerts_per_s_cpu": round(engine_cpu_rate),
        "engine_batched_alerts_per_s_wall": round(statistics.median(batch_runs)),
        "engine_batched_alerts_per_s_cpu": round(statistics.median(batch_cpu_runs)),
        "route_cli_alerts_per_s_wall_incl_rules_load": round(cli_rate),
        "route_cli_alerts_per_s_cpu_incl_rules_load": round(cli_cpu_rate),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
    }, indent=2))


if __name__ == "__main__":
    main()
