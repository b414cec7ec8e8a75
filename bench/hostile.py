"""Hostile files and requests against the running app, as a user (or an attacker) would send them.

    python bench/hostile.py [--only NAME[,NAME...]] [--skip-slow]

Starts ``app.py`` on a free 127.0.0.1 port over a temporary copy of corpus/ (index built at
start), then sends each case of issue 9 through the path a user has: the upload handler of the
page (gradio_client, by the event's fn_index, as the browser does), the chat handler, the
``/ask`` API (gradio_client, or the raw REST API where the client cannot encode the input), or
the ``ftzqa`` CLI on the same corpus and index. While each case runs, a poller times ``GET /``
every 0.25 s and samples the server's RSS (and its parser worker's). Per case it reports:

- handled: a clear message, no traceback or "failed unexpectedly" reaching the user;
- GET / max: the slowest page load while the case ran (goal < 1 s);
- RSS peak: the server process (goal < 1.5 GB), and the parser worker child;
- leftovers: files the case left in corpus/ (refused or hidden), index/ temporaries, upload cache.

Prints a table and writes bench/results/hostile.json. Disk-full and damaged-index cases need
root tricks or belong to index tests: they are listed as "n/a in this script".
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
import hostile_files as H  # noqa: E402  (builders shared with tests/test_hostile_files.py)

MB = 2**20
GOAL_GET_S = 1.0
GOAL_RSS_MB = 1536.0
QUESTION = "How many Qilu Eurasian trains ran in the first seven months?"


# --- the server and the monitor --------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def workers(pid: int) -> list[int]:
    """Parser worker processes of ``pid`` (whichever thread started them; a child caught between
    fork and exec still shows the server's memory and is not counted)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids = [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            continue
        for kid in kids:
            try:
                if b"parse_worker" in Path(f"/proc/{kid}/cmdline").read_bytes():
                    found.append(kid)
            except OSError:
                continue
    return found


@dataclass
class Sample:
    t: float
    server_mb: float
    worker_mb: float


class Monitor:
    """Times GET / and samples RSS in background threads, for the whole run."""

    def __init__(self, url: str, pid: int) -> None:
        self.url, self.pid = url, pid
        self.polls: list[tuple[float, float]] = []  # (start, seconds); seconds = inf on failure
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._poll, daemon=True),
            threading.Thread(target=self._rss, daemon=True),
        ]
        for t in self._threads:
            t.start()

    def _poll(self) -> None:
        while not self._stop.is_set():
            start = time.monotonic()
            try:
                with urllib.request.urlopen(self.url, timeout=120) as r:
                    r.read()
                took = time.monotonic() - start
            except OSError:
                took = float("inf")
            self.polls.append((start, took))
            self._stop.wait(0.25)

    def _rss(self) -> None:
        while not self._stop.is_set():
            worker = sum(rss_mb(c) for c in workers(self.pid))
            self.samples.append(Sample(time.monotonic(), rss_mb(self.pid), worker))
            self._stop.wait(0.1)

    def settle(self, since: float) -> None:
        """Wait (bounded) until a GET / that started after ``since`` has finished."""
        deadline = time.monotonic() + 130
        while time.monotonic() < deadline and not any(s >= since for s, _ in self.polls):
            time.sleep(0.05)

    def window(self, start: float, end: float) -> dict[str, Any]:
        polls = [took for s, took in self.polls if start - 0.3 <= s <= end]
        samples = [x for x in self.samples if start <= x.t <= end] or self.samples[-1:]
        return {
            "get_max_s": round(max(polls), 3) if polls else None,
            "get_polls": len(polls),
            "rss_peak_mb": round(max(x.server_mb for x in samples), 0) if samples else None,
            "worker_peak_mb": round(max(x.worker_mb for x in samples), 0) if samples else None,
        }

    def stop(self) -> None:
        self._stop.set()


def start_app(work: Path, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "GRADIO_ANALYTICS_ENABLED": "False",
        "GRADIO_TEMP_DIR": str(work / "gradio-tmp"),
        "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]),
    }
    cmd = [
        sys.executable,
        str(REPO / "app.py"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--index",
        str(work / "index"),
        "--corpus",
        str(work / "corpus"),
    ]
    log = (work / "server.log").open("wb")
    return subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=work)


def wait_until_up(url: str, proc: subprocess.Popen[bytes], timeout: float = 600.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"app.py exited with code {proc.returncode}; see its log")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"app.py did not answer on {url} within {timeout:.0f} s")


# --- what a user sends ----------------------------------------------------------------------


class App:
    """The page's handlers, called the way a browser calls them (upload, then queue/join by
    fn_index; the page's events are hidden from the API), and /ask through gradio_client."""

    def __init__(self, url: str, work: Path) -> None:
        from gradio_client import Client

        self.url, self.work = url, work
        self.client = Client(url, verbose=False)
        config = self.client.config
        self.ids = {c.get("props", {}).get("elem_id"): c["id"] for c in config["components"]}
        self.upload_fn = self._fn_index(config, self.ids["fq-files"], "upload")
        self.chat_fn = self._fn_index(config, self.ids["fq-question"], "submit")

    @staticmethod
    def _fn_index(config: dict[str, Any], component: int, event: str) -> int:
        for i, dep in enumerate(config["dependencies"]):
            if [component, event] in [list(t) for t in dep.get("targets", [])]:
                return int(dep.get("id", i))
        raise SystemExit(f"no {event} event on component {component}")

    def _queue(self, fn_index: int, data: list[Any], trigger: int, timeout: float = 900) -> list[Any]:
        """One event through Gradio's queue, as the page's JavaScript sends it (JSON escapes any
        lone surrogate, as a browser's JSON.stringify does)."""
        import httpx

        session = uuid.uuid4().hex
        body = json.dumps(
            {"data": data, "fn_index": fn_index, "session_hash": session, "event_data": None, "trigger_id": trigger}
        )
        r = httpx.post(
            self.url + "gradio_api/queue/join",
            content=body.encode(),
            headers={"Content-Type": "application/json"},
            timeout=60,
        )
        r.raise_for_status()
        event = r.json()["event_id"]
        params = {"session_hash": session}
        with httpx.stream("GET", self.url + "gradio_api/queue/data", params=params, timeout=timeout) as stream:
            for line in stream.iter_lines():
                if not line.startswith("data:"):
                    continue
                msg = json.loads(line[5:])
                if msg.get("msg") == "process_completed" and msg.get("event_id") == event:
                    output = msg.get("output") or {}
                    if not msg.get("success"):
                        raise RuntimeError(f"the page reported an error: {output.get('error')!r}")
                    return list(output.get("data") or [])
                if msg.get("msg") == "close_stream":
                    break
        raise RuntimeError("the event stream closed without a result")

    def upload(self, paths: list[Path]) -> str:
        import httpx

        handles = []
        for path in paths:
            with path.open("rb") as fh:
                r = httpx.post(self.url + "gradio_api/upload", files=[("files", (path.name, fh))], timeout=120)
            if r.status_code != 200:
                return f"- {path.name}: upload refused by the server (HTTP {r.status_code}: {short(r.text, 80)})"
            handles.append(
                {
                    "path": r.json()[0],
                    "orig_name": path.name,
                    "size": path.stat().st_size,
                    "meta": {"_type": "gradio.FileData"},
                }
            )
        return str(self._queue(self.upload_fn, [handles], self.ids["fq-files"])[0])

    def chat(self, question: str) -> list[dict[str, Any]]:
        out = self._queue(self.chat_fn, [question, [], 3, "hybrid", None], self.ids["fq-question"])
        return list(out[1])

    def ask(self, question: str, k: int = 3) -> Any:
        return self.client.predict(question, k, api_name="/ask")

    def ask_raw(self, body: bytes) -> str:
        """/ask through Gradio's REST API with a hand-made JSON body (e.g. a lone surrogate)."""
        req = urllib.request.Request(
            self.url + "gradio_api/call/ask", data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=120) as r:
            event = json.loads(r.read())["event_id"]
        with urllib.request.urlopen(f"{self.url}gradio_api/call/ask/{event}", timeout=120) as r:
            return r.read().decode("utf-8", "replace")


def cli(work: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "NO_COLOR": "1",
        "PYTHONPATH": os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.run(
        [sys.executable, "-m", "ftzqa.cli", *args],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        errors="replace",
    )


# --- cases ----------------------------------------------------------------------------------


@dataclass
class Outcome:
    handled: bool
    message: str
    added: list[str] = field(default_factory=list)  # corpus files this case may legitimately add


@dataclass
class Row:
    case: str
    finding: str
    via: str
    handled: bool | None
    message: str
    seconds: float | None = None
    get_max_s: float | None = None
    get_polls: int = 0
    rss_peak_mb: float | None = None
    worker_peak_mb: float | None = None
    leftovers: list[str] = field(default_factory=list)
    path_leak: bool = False


def clean(text: str) -> bool:
    """No traceback and no "failed unexpectedly" (the page's message for an unhandled error)."""
    return "Traceback" not in text and "failed unexpectedly" not in text


def refused(result: str, name: str) -> bool:
    """The upload reply names the file with a reason and does not say it was added."""
    lines = [line for line in result.splitlines() if name.lower() in line.lower()]
    return (
        bool(lines) and not any(line.lower().startswith(f"- added {name.lower()}") for line in lines) and clean(result)
    )


def added(result: str, name: str) -> bool:
    return f"added {name.lower()}" in result.lower() and clean(result)


def short(text: Any, n: int = 150) -> str:
    s = " ".join(str(text).split())
    return s if len(s) <= n else s[: n - 1] + "…"


def build_cases(app: App, work: Path, files: Path) -> list[tuple[str, str, str, Callable[[], Outcome]]]:
    def write(name: str, data: bytes | str) -> Path:
        path = files / name
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        return path

    def upload_refused(name: str, data: Callable[[], bytes]) -> Callable[[], Outcome]:
        def run() -> Outcome:
            result = app.upload([write(name, data())])
            return Outcome(refused(result, name), short(result))

        return run

    def upload_added(name: str, data: Callable[[], str], question: str) -> Callable[[], Outcome]:
        def run() -> Outcome:
            result = app.upload([write(name, data())])
            ok = added(result, name)
            answer = app.chat(question)  # the chat renders context and evidence around the new text
            reply = str(answer[-1]["content"]) if answer else ""
            return Outcome(ok and "fq-answer" in reply and clean(reply), short(result), [name])

        return run

    def mixed_batch() -> Outcome:
        good = write("harbour-notes.md", "# Harbour\n\nThe harbour moved twelve million tonnes of cargo.\n")
        bomb = write("batch-bomb.docx", H.docx_bomb(40 * MB))
        result = app.upload([good, bomb])
        return Outcome(added(result, good.name) and refused(result, bomb.name), short(result), [good.name])

    def ask_case(question: Callable[[], str], k: int = 3, limit_s: float = 10.0) -> Callable[[], Outcome]:
        def run() -> Outcome:
            t = time.monotonic()
            result = app.ask(question(), k)
            took = time.monotonic() - t
            if isinstance(result, dict) and "error" in result:
                return Outcome(clean(result["error"]) and took < limit_s, short(f"{took:.1f} s: {result['error']}"))
            hits = result.get("hits", []) if isinstance(result, dict) else []
            size = len(json.dumps(result))
            return Outcome(
                took < limit_s and len(hits) <= 10, f"{len(hits)} passages, {size / MB:.1f} MB reply, {took:.1f} s"
            )

        return run

    def surrogate() -> Outcome:
        body = json.dumps({"data": ["Who is Tang Wenhong? \ud800", 3, "hybrid"]}, ensure_ascii=True).encode()
        text = app.ask_raw(body)
        ok = "event: complete" in text and clean(text)
        return Outcome(ok, short(text.replace("\n", " ")))

    def chat_surrogate() -> Outcome:
        history = app.chat("Who is Tang Wenhong? \ud800")
        reply = str(history[-1]["content"]) if history else ""
        return Outcome("fq-answer" in reply and clean(reply), short(f"reply: {reply}"))

    def markdown_question() -> Outcome:
        history = app.chat("![i](x) What about Yunnan?")
        user = next((str(m["content"]) for m in history if m.get("role") == "user"), "")
        return Outcome("![i](x)" not in user, short(f"user bubble: {user}"))

    def cli_add_bomb() -> Outcome:
        bomb = write("cli-bomb.docx", H.docx_bomb(40 * MB))
        r = cli(work, "add", str(bomb), "--corpus", "corpus", "--index", "index")
        one_line = len([x for x in r.stderr.splitlines() if "cli-bomb.docx" in x]) == 1
        return Outcome(r.returncode != 0 and one_line and clean(r.stderr), short(f"exit {r.returncode}: {r.stderr}"))

    def cli_build() -> Outcome:
        corpus = work / "cli-corpus"
        corpus.mkdir(exist_ok=True)
        shutil.copy(REPO / "corpus" / "ftz-one-year.md", corpus)
        for name, make in (
            ("notes.docx", lambda: b"plain text"),
            ("broken.docx", H.docx_malformed_xml),
            ("bomb.docx", lambda: H.docx_bomb(40 * MB)),
            ("pages.pdf", H.pdf_page_tree_bomb),
            ("flate.pdf", lambda: H.pdf_flate_bomb(80_000_000)),
        ):
            (corpus / name).write_bytes(make())
        r = cli(work, "build", "--corpus", str(corpus), "--index", str(work / "cli-index"))
        skipped = [x for x in r.stderr.splitlines() if x.startswith("ftzqa: skipped ")]
        ok = r.returncode == 0 and len(skipped) == 5 and clean(r.stderr)
        return Outcome(ok, short(f"exit {r.returncode}; {len(skipped)} skipped; {r.stdout.strip()}"))

    def cli_ask_control() -> Outcome:
        corpus = work / "ctl-corpus"
        corpus.mkdir(exist_ok=True)
        (corpus / "ctl.md").write_text("# Beacons\n\nThe lighthouse \x1b]0;pwned\x07 beam \x1b[2J sweeps the bay.\n")
        cli(work, "build", "--corpus", str(corpus), "--index", str(work / "ctl-index"))
        r = cli(work, "ask", "What does the lighthouse beam sweep?", "--index", str(work / "ctl-index"))
        escape = "\x1b" in r.stdout
        return Outcome(r.returncode == 0 and not escape, short(f"exit {r.returncode}; ESC in output: {escape}"))

    def big_upload() -> Outcome:
        text = "".join(f"Paragraph {i} of a long upload.\n\n" for i in range(130_000))  # 4.7 MB, 130,000 passages
        path = write("many-paragraphs.md", text)
        result: dict[str, str] = {}

        def send() -> None:
            try:
                result["r"] = app.upload([path])
            except Exception as exc:  # the server is stopped after this case while still indexing
                result["r"] = f"{type(exc).__name__}: {exc}"

        t = threading.Thread(target=send, daemon=True)
        t.start()
        t.join(180)
        if t.is_alive():
            return Outcome(
                False, "still indexing after 180 s (no cap on passages per upload); server stopped after this case"
            )
        return Outcome(clean(result["r"]), short(result["r"]), [path.name])

    texts = {
        "heading-bomb.md": "# a" + " " * 30_000 + "x\n\nThe heading above is thirty thousand spaces long.\n",
        "heading-mb.md": "# a" + " " * MB + "x\n\nThe heading above is a megabyte long.\n",
        "dots.md": "Dotted notes\n\nThe beacon count rose" + "." * 20_000 + " again in spring.\n",
        "blanks.md": "Lamp notes\n\nThe lamp rooms were repainted.\n" + "\n" * 30_000 + "Keepers logged it.\n",
    }
    heading_bomb, heading_mb, dots, blanks = (lambda t=t: t for t in texts.values())
    return [
        (
            "heading 30k spaces (.md)",
            "1",
            "upload+chat",
            upload_added("heading-bomb.md", heading_bomb, "How long is the heading above?"),
        ),
        (
            "heading 1 MB line (.md)",
            "1",
            "upload+chat",
            upload_added("heading-mb.md", heading_mb, "Which heading is a megabyte long?"),
        ),
        ("20,000 dots (.md)", "1", "upload+chat", upload_added("dots.md", dots, "When did the beacon count rise?")),
        ("30,000 blank lines (.md)", "1", "upload+chat", upload_added("blanks.md", blanks, "What did keepers log?")),
        ("ask, question of 20,000 dots", "1", "/ask", ask_case(lambda: "Why" + "." * 20_000)),
        (
            "docx bomb 3.6 GB document.xml",
            "2",
            "upload",
            upload_refused("bomb.docx", lambda: H.docx_bomb(3600 * MB, H.BIG_BLOCK)),
        ),
        ("docx 90 MB of text", "2", "upload", upload_refused("text-90mb.docx", lambda: H.docx_bomb(90 * MB))),
        (
            "docx member claims 4 GB",
            "2",
            "upload",
            upload_refused("claims.docx", lambda: H.docx_claiming(4_000_000_000)),
        ),
        ("docx 20,000 members", "2", "upload", upload_refused("members.docx", lambda: H.docx_many_members(20_000))),
        ("pdf page tree 10^8 pages", "2", "upload", upload_refused("pages.pdf", H.pdf_page_tree_bomb)),
        ("pdf tree lying /Count", "2", "upload", upload_refused("lying.pdf", lambda: H.pdf_page_tree_bomb(declared=1))),
        ("pdf flate bomb 80 MB", "2", "upload", upload_refused("flate.pdf", lambda: H.pdf_flate_bomb(80_000_000))),
        (
            "text file named .docx",
            "3",
            "upload",
            upload_refused("notes.docx", lambda: b"plain notes, wrong extension\n"),
        ),
        ("docx malformed XML", "3", "upload", upload_refused("broken.docx", H.docx_malformed_xml)),
        ("pdf truncated", "3", "upload", upload_refused("cut.pdf", lambda: H.pdf_text(["Cut short."])[:200])),
        ("good + bomb in one batch", "3", "upload", mixed_batch),
        ("ftzqa build, 5 bad files", "3", "cli", cli_build),
        ("ftzqa add bomb.docx", "8", "cli", cli_add_bomb),
        ("ask k=100000", "5", "/ask", ask_case(lambda: QUESTION, k=100_000)),
        ("ask 30M-character question", "5", "/ask", ask_case(lambda: "trade " * 5_000_000)),
        ("ask lone surrogate", "8", "/ask REST", surrogate),
        ("chat lone surrogate", "8", "chat", chat_surrogate),
        ("chat Markdown image question", "8", "chat", markdown_question),
        ("ftzqa ask, control sequences", "8", "cli", cli_ask_control),
        ("upload 130,000 paragraphs", "5", "upload", big_upload),
    ]


NOT_HERE = [
    ("disk full during add", "6", "needs a full filesystem (root: a small tmpfs/loop mount)"),
    ("damaged index files", "7", "covered by the index tests; needs the app restarted per case"),
    ("access control (auth, read-only)", "4", "flags not on this branch; rerun with them after the merge"),
    ("serving the old index after a kill", "8", "covered by the crash tests"),
]


# --- running --------------------------------------------------------------------------------


def snapshot(work: Path) -> dict[str, Any]:
    corpus = {p.name for p in (work / "corpus").iterdir()}
    index = {p.name for p in (work / "index").iterdir()} if (work / "index").is_dir() else set()
    cache = [p for p in (work / "gradio-tmp").rglob("*") if p.is_file()] if (work / "gradio-tmp").is_dir() else []
    return {
        "corpus": corpus,
        "index": index,
        "cache_files": len(cache),
        "cache_mb": sum(p.stat().st_size for p in cache) / MB,
    }


def leftovers(before: dict[str, Any], after: dict[str, Any], allowed: list[str]) -> list[str]:
    out = []
    for name in sorted(after["corpus"] - before["corpus"]):
        if name.startswith("."):
            out.append(f"corpus/{name} (hidden temporary)")
        elif name not in allowed:
            out.append(f"corpus/{name}")
    for name in sorted(after["index"] - before["index"]):
        if name.startswith(".tmp") or name.startswith(".CURRENT"):
            out.append(f"index/{name}")
    grown = after["cache_files"] - before["cache_files"]
    if grown > 0:
        out.append(f"upload cache +{grown} file(s), {after['cache_mb'] - before['cache_mb']:.1f} MB")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", help="comma-separated case names (substring match)")
    parser.add_argument("--skip-slow", action="store_true", help="skip the 130,000-paragraph upload")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (server log, corpus)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="ftzqa-hostile-"))
    files = work / "files"
    files.mkdir()
    shutil.copytree(REPO / "corpus", work / "corpus")
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    proc = start_app(work, port)
    rows: list[Row] = []
    monitor: Monitor | None = None
    try:
        wait_until_up(url, proc)
        monitor = Monitor(url, proc.pid)
        app = App(url, work)
        time.sleep(1.0)
        baseline = monitor.window(time.monotonic() - 1.0, time.monotonic())
        print(f"server up on {url}: RSS {baseline['rss_peak_mb']} MB; work folder {work}", flush=True)
        for name, finding, via, run in build_cases(app, work, files):
            if args.only and not any(s.strip() in name for s in args.only.split(",")):
                continue
            if args.skip_slow and name.startswith("upload 130,000"):
                continue
            if proc.poll() is not None:
                rows.append(Row(name, finding, via, False, f"server is gone (exit code {proc.returncode})"))
                continue
            before = snapshot(work)
            start = time.monotonic()
            try:
                outcome = run()
            except Exception as exc:  # the client saw an error: not handled
                outcome = Outcome(False, short(f"{type(exc).__name__}: {exc}"))
            seconds = time.monotonic() - start
            monitor.settle(time.monotonic())
            stats = monitor.window(start, time.monotonic())
            row = Row(name, finding, via, outcome.handled, outcome.message, round(seconds, 1), **stats)
            row.leftovers = leftovers(before, snapshot(work), outcome.added)
            row.path_leak = str(work) in outcome.message
            rows.append(row)
            print(
                f"  {name}: {'handled' if row.handled else 'NOT handled'} in {row.seconds} s; GET / max "
                f"{row.get_max_s} s; RSS {row.rss_peak_mb} MB (worker {row.worker_peak_mb}); {row.message}",
                flush=True,
            )
            if name.startswith("upload 130,000") and not outcome.handled:
                break
    finally:
        if monitor:
            monitor.stop()
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    rows += [Row(name, finding, "—", None, f"n/a in this script: {why}") for name, finding, why in NOT_HERE]
    report(rows)
    out = REPO / "bench" / "results" / "hostile.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {"goals": {"get_max_s": GOAL_GET_S, "rss_peak_mb": GOAL_RSS_MB}, "cases": [asdict(r) for r in rows]},
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )
    print(f"wrote {out.relative_to(REPO)}")
    measured = [r for r in rows if r.handled is not None]
    return 0 if all(r.handled and not r.leftovers for r in measured) else 1


def report(rows: list[Row]) -> None:
    print()
    print("| case | finding | via | handled | s | GET / max s | server RSS MB | worker RSS MB | leftovers | message |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        handled = "n/a" if r.handled is None else ("yes" if r.handled else "**no**")
        get = (
            ""
            if r.get_max_s is None
            else (f"{r.get_max_s:.2f}" if r.get_max_s < GOAL_GET_S else f"**{r.get_max_s:.2f}**")
        )
        rss = (
            ""
            if r.rss_peak_mb is None
            else (f"{r.rss_peak_mb:.0f}" if r.rss_peak_mb < GOAL_RSS_MB else f"**{r.rss_peak_mb:.0f}**")
        )
        worker = "" if not r.worker_peak_mb else f"{r.worker_peak_mb:.0f}"
        left = "; ".join(r.leftovers) or ("" if r.handled is None else "none")
        msg = r.message.replace("|", "\\|")[:110]
        cells = [r.case, r.finding, r.via, handled, str(r.seconds or ""), get, rss, worker, left, msg]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    raise SystemExit(main())
