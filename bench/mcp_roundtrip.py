"""MCP tool round trip next to /ask's, and what --mcp costs at start.

    python bench/mcp_roundtrip.py [--rounds 10] [--starts 3]

Starts ``app.py --mcp`` on a free 127.0.0.1 port over a copy of corpus/ (index built there) and
asks the same questions, one at a time, alternately through the MCP tool ``ask`` (the official
``mcp`` client, one streamable-HTTP session kept open, as agents do) and through ``/ask``
(gradio_client); checks that both return the same JSON; prints p50/p95 of each. Also times a
fresh MCP session (connect, initialize, one call), and the time from starting ``app.py`` to its
page answering, with and without --mcp (over the built index). Writes bench/results/mcp.json.
Traffic goes to loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from load import QUESTIONS, free_port, percentile, wait_until_up

REPO = Path(__file__).resolve().parents[1]


def start(work: Path, mcp: bool) -> tuple[subprocess.Popen[bytes], str, float]:
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"}
    cmd = [sys.executable, str(REPO / "app.py"), "--host", "127.0.0.1", "--port", str(port),
           "--index", str(work / "index"), "--corpus", str(work / "corpus"), *(["--mcp"] if mcp else [])]
    began = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_until_up(url, proc)
    return proc, url, time.perf_counter() - began


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def summary(values: list[float]) -> dict[str, float]:
    return {"n": len(values), "p50_ms": round(statistics.median(values) * 1000, 1),
            "p95_ms": round(percentile(values, 0.95) * 1000, 1)}


async def round_trips(url: str, rounds: int) -> dict[str, Any]:
    from gradio_client import Client
    from mcp import ClientSession
    from mcp.client.streamable_http import streamablehttp_client

    client = Client(url, verbose=False)
    mcp_times: list[float] = []
    ask_times: list[float] = []
    mismatches: list[str] = []
    async with streamablehttp_client(url + "gradio_api/mcp/") as (read, write, _):
        async with ClientSession(read, write) as session:
            await session.initialize()
            await session.call_tool("ask", {"question": QUESTIONS[0], "k": 3, "mode": "hybrid"})  # warm up
            await asyncio.to_thread(client.predict, QUESTIONS[0], 3, "hybrid", api_name="/ask")
            for _ in range(rounds):
                for question in QUESTIONS:
                    t0 = time.perf_counter()
                    result = await session.call_tool("ask", {"question": question, "k": 3, "mode": "hybrid"})
                    mcp_times.append(time.perf_counter() - t0)
                    t0 = time.perf_counter()
                    via_api = await asyncio.to_thread(client.predict, question, 3, "hybrid", api_name="/ask")
                    ask_times.append(time.perf_counter() - t0)
                    if result.isError or json.loads(result.content[0].text) != via_api:
                        mismatches.append(question)
    fresh: list[float] = []
    for question in QUESTIONS:
        t0 = time.perf_counter()
        async with streamablehttp_client(url + "gradio_api/mcp/") as (read, write, _):
            async with ClientSession(read, write) as session:
                await session.initialize()
                await session.call_tool("ask", {"question": question, "k": 3, "mode": "hybrid"})
        fresh.append(time.perf_counter() - t0)
    return {"mcp_tool": summary(mcp_times), "ask_gradio_client": summary(ask_times),
            "mcp_fresh_session": summary(fresh), "mismatches": mismatches}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=10, help="times each of the 8 questions is asked")
    parser.add_argument("--starts", type=int, default=3, help="app starts timed with and without --mcp")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ftzqa-mcp-"))
    shutil.copytree(REPO / "corpus", work / "corpus")
    try:
        proc, url, _ = start(work, mcp=True)  # builds the index
        try:
            result = asyncio.run(round_trips(url, args.rounds))
        finally:
            stop(proc)
        starts: dict[str, list[float]] = {"without_mcp": [], "with_mcp": []}
        for _ in range(args.starts):
            for name, mcp in (("without_mcp", False), ("with_mcp", True)):
                proc, _, seconds = start(work, mcp)
                stop(proc)
                starts[name].append(seconds)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result["start_s"] = {name: {"median": round(statistics.median(v), 2), "runs": [round(x, 2) for x in v]}
                         for name, v in starts.items()}
    result["load_average"] = [round(x, 2) for x in os.getloadavg()]
    print(f"{'round trip (8 questions x ' + str(args.rounds) + ')':<34} {'p50 ms':>8} {'p95 ms':>8}")
    for key, label in (("mcp_tool", "MCP tool ask (open session)"), ("ask_gradio_client", "/ask (gradio_client)"),
                       ("mcp_fresh_session", "MCP: new session + 1 call")):
        print(f"{label:<34} {result[key]['p50_ms']:>8} {result[key]['p95_ms']:>8}")
    print(f"same JSON from both: {not result['mismatches']} ({len(result['mismatches'])} mismatches)")
    for name, v in result["start_s"].items():
        print(f"start to page answering, {name.replace('_', ' ')}: median {v['median']} s of {v['runs']}")
    out = REPO / "bench" / "results" / "mcp.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0 if not result["mismatches"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
