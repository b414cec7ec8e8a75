"""Start the real ``app.py`` in a child process (real model, real Gradio server) and talk to it
over raw HTTP the way a browser or an attacker would: log in, read /config, upload to Gradio's
cache, and post an event's ``fn_index`` to the queue."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from conftest import write_corpus

REPO = Path(__file__).resolve().parents[1]
START_TIMEOUT = 300  # s: importing torch and loading the model on a busy 2-core machine


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class App:
    url: str
    root: Path
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def corpus(self) -> Path:
        return self.root / "corpus"

    @property
    def cache(self) -> Path:
        return self.root / "gradio-cache"

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def client(self, user: str | None = None, password: str | None = None) -> httpx.Client:
        """An HTTP client, logged in through Gradio's own /login when a user is given."""
        client = httpx.Client(base_url=self.url, timeout=60)
        if user is not None:
            r = client.post("/login", data={"username": user, "password": password or ""})
            assert r.status_code == 200, (r.status_code, r.text)
        return client


@contextmanager
def running_app(root: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[App]:
    """``python app.py`` over a copy of the tiny corpus plus the article, until the block ends."""
    root.mkdir(parents=True, exist_ok=True)
    corpus = write_corpus(root / "corpus")
    shutil.copy(REPO / "corpus" / "ftz-one-year.md", corpus)
    port = free_port()
    log = root / "app.log"
    child_env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO / "src"), os.environ.get("PYTHONPATH")])),
        "GRADIO_TEMP_DIR": str(root / "gradio-cache"),
        "GRADIO_ANALYTICS_ENABLED": "False",
        **(env or {}),
    }
    cmd = [sys.executable, str(REPO / "app.py"), "--corpus", str(corpus), "--index", str(root / "index")]
    if os.environ.get("FTZQA_TEST_STORE") == "milvus":  # pytest --store milvus
        cmd += ["--store", f"milvus:{(root / 'index').absolute()}.milvus.db"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [*cmd, "--host", "127.0.0.1", "--port", str(port), *args], stdout=out, stderr=subprocess.STDOUT,
            env=child_env,
        )
    app = App(f"http://127.0.0.1:{port}", root, proc, log)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if proc.poll() is not None:
                raise AssertionError(f"app.py exited with {proc.returncode}:\n{app.output()}")
            try:
                if httpx.get(app.url + "/", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"app.py did not listen within {START_TIMEOUT} s:\n{app.output()}")
            time.sleep(0.5)
        yield app
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def find_upload_event(config: dict[str, Any]) -> int | None:
    """The fn_index of the event whose input is a file component, as an attacker finds it."""
    files = {c["id"] for c in config["components"] if c.get("type") == "file"}
    for dep in config["dependencies"]:
        if files & set(dep.get("inputs", [])):
            return int(dep["id"])
    return None


def upload_to_cache(client: httpx.Client, name: str, data: bytes) -> httpx.Response:
    return client.post("/gradio_api/upload", files={"files": (name, data, "text/markdown")})


def file_payload(path: str, name: str) -> list[dict[str, Any]]:
    return [{"path": path, "orig_name": name, "meta": {"_type": "gradio.FileData"}}]


def call_event(client: httpx.Client, fn_index: int, data: list[Any], trigger_id: int | None = None) -> dict[str, Any]:
    """Post ``fn_index`` to /gradio_api/queue/join and read the event stream to its end.

    Returns the final message (``process_completed``), or {"status": code, "detail": ...} when
    the join itself is refused.
    """
    session = uuid.uuid4().hex[:11]
    body = {"data": data, "event_data": None, "fn_index": fn_index, "trigger_id": trigger_id, "session_hash": session}
    joined = client.post("/gradio_api/queue/join", content=json.dumps(body, ensure_ascii=True),
                         headers={"content-type": "application/json"})
    if joined.status_code != 200:
        return {"status": joined.status_code, "detail": joined.text}
    with client.stream("GET", "/gradio_api/queue/data", params={"session_hash": session}) as stream:
        for line in stream.iter_lines():
            if not line.startswith("data:"):
                continue
            message = json.loads(line[5:])
            if message.get("msg") in ("process_completed", "unexpected_error"):
                return dict(message)
    raise AssertionError("the event stream ended without a result")
