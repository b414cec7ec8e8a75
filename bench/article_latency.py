"""Answer latency on one index as a server sees it: the same questions asked in several passes.

    python bench/article_latency.py [--index index] [--passes 3]

Loads the index once (its ONNX query encoder when it has one), asks every question of the FTZ
loose and fresh gold sets (tests/data/) in each pass, and prints p50 / p95 of the full answer
(``Retriever.search``: ranking, evidence, verdict) per pass and of the question's embedding alone.
The first pass embeds the sentences the verdict compares (see README, "The sentence cosines");
later passes find most of them kept. Build the index first (``ftzqa build``); run on an idle
machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from ftzqa.retrieve import Retriever

ROOT = Path(__file__).resolve().parent.parent
SETS = (ROOT / "tests/data/ftz_loose.jsonl", ROOT / "tests/data/ftz_fresh.jsonl")


def _ms(times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return f"{1000 * statistics.median(ordered):.1f} / {1000 * p95:.1f} ms"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, default=ROOT / "index")
    parser.add_argument("--passes", type=int, default=3)
    args = parser.parse_args(argv)
    questions = [json.loads(line)["question"] for path in SETS for line in path.open(encoding="utf-8") if line.strip()]
    retriever = Retriever.load(args.index)
    embedder = retriever.embedder
    embedder.encode(["warm up"])  # the encoder's first run allocates; not a question's cost
    embedding = []
    for question in questions:
        started = time.perf_counter()
        embedder.encode([question])
        embedding.append(time.perf_counter() - started)
    print(f"{len(questions)} questions, index {args.index}, embedder {type(embedder).__name__}")
    print(f"question embedding alone, p50 / p95: {_ms(embedding)}")
    for n in range(1, args.passes + 1):
        times = []
        for question in questions:
            started = time.perf_counter()
            retriever.search(question)
            times.append(time.perf_counter() - started)
        print(f"pass {n}: full answer p50 / p95 {_ms(times)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
