"""Load test: N concurrent gradio_client clients asking Q questions each against the app on loopback.

    python bench/load.py [--clients 50] [--questions 20]

Starts ``app.py`` on a free 127.0.0.1 port over a copy of corpus/ (index built there), waits for
it, runs the clients in threads, and prints p50/p95 latency, throughput and errors. Writes
bench/results/load.json. Traffic goes to loopback only; every loop is bounded.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
QUESTIONS = [
    "How many Qilu Eurasian trains ran in the first seven months?",
    "Who is Tang Wenhong?",
    "How many reform pilot tasks were identified in the overall plan?",
    "What were Heilongjiang's exports to Russia?",
    "How many new market entities were born every day in Yunnan?",
    "What is the capital of France?",
    "How much foreign capital did the zones use?",
    "What is the only special comprehensive bonded zone in the country?",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(url: str, proc: subprocess.Popen[bytes], timeout: float = 300.0) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"app.py exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"app.py did not answer on {url} within {timeout:.0f} s")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--questions", type=int, default=20)
    args = parser.parse_args()
    from gradio_client import Client

    work = Path(tempfile.mkdtemp(prefix="ftzqa-load-"))
    shutil.copytree(REPO / "corpus", work / "corpus")
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"}
    cmd = [sys.executable, str(REPO / "app.py"), "--host", "127.0.0.1", "--port", str(port),
           "--index", str(work / "index"), "--corpus", str(work / "corpus")]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    try:
        wait_until_up(url, proc)

        def client(n: int) -> None:
            try:
                c = Client(url, verbose=False)
            except Exception as exc:  # report, never crash the benchmark
                with lock:
                    errors.extend([f"connect: {exc}"] * args.questions)
                return
            for i in range(args.questions):
                q = QUESTIONS[(n + i) % len(QUESTIONS)]
                t0 = time.perf_counter()
                try:
                    result = c.predict(q, 3, api_name="/ask")
                    ok = isinstance(result, dict) and "hits" in result and "error" not in result
                except Exception as exc:
                    ok, result = False, str(exc)
                elapsed = time.perf_counter() - t0
                with lock:
                    latencies.append(elapsed)
                    if not ok:
                        errors.append(str(result)[:200])

        started = time.perf_counter()
        threads = [threading.Thread(target=client, args=(n,)) for n in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=1800)
        wall = time.perf_counter() - started
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(work, ignore_errors=True)

    total = args.clients * args.questions
    result = {
        "clients": args.clients,
        "questions_per_client": args.questions,
        "requests": total,
        "completed": len(latencies),
        "errors": len(errors),
        "p50_s": round(statistics.median(latencies), 3) if latencies else None,
        "p95_s": round(percentile(latencies, 0.95), 3) if latencies else None,
        "wall_s": round(wall, 1),
        "throughput_rps": round(len(latencies) / wall, 1) if wall else None,
        "first_errors": errors[:5],
    }
    print(f"{'clients':>8} {'requests':>9} {'errors':>7} {'p50 s':>7} {'p95 s':>7} {'req/s':>7} {'wall s':>7}")
    print(f"{args.clients:>8} {total:>9} {len(errors):>7} {result['p50_s']:>7} {result['p95_s']:>7} "
          f"{result['throughput_rps']:>7} {result['wall_s']:>7}")
    out = REPO / "bench" / "results" / "load.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0 if not errors and len(latencies) == total else 1


if __name__ == "__main__":
    raise SystemExit(main())
