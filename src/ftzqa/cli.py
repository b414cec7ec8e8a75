"""Command line: argument parsing and printing only (``ftzqa --help``)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from typing import TYPE_CHECKING, Any

from . import __version__
from .errors import FtzqaError
from .sanitize import json_safe, one_line, terminal_safe
from .settings import MAX_K, MODES, default_corpus_dir, default_index_dir

if TYPE_CHECKING:
    from .types import Answer


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ftzqa",
        description="Ask questions of your documents; answers are cited passages (offline, CPU).",
    )
    parser.add_argument("--version", action="version", version=f"ftzqa {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def paths(p: argparse.ArgumentParser, corpus: bool = True) -> None:
        if corpus:
            p.add_argument(
                "--corpus", default=default_corpus_dir(), help="corpus folder (default: %(default)s)"
            )
        else:
            p.add_argument(
                "--corpus",
                default=None,
                help="corpus folder to check for staleness (default: the one indexed)",
            )
        p.add_argument("--index", default=default_index_dir(), help="index folder (default: %(default)s)")
        store(p)

    def store(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--store", default=None,
            help="where the index lives: embedded (the --index folder, default), milvus:PATH.db (Milvus Lite) "
            "or milvus://HOST:PORT (a Milvus server) (env FTZQA_STORE)",
        )

    def model(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--model", default=None, help="sentence-transformers model: local path or name (FTZQA_MODEL)"
        )
        p.add_argument("--device", default=None, help="cpu, cuda, ... (default: cuda when present)")

    b = sub.add_parser("build", help="build or refresh the index from the corpus")
    paths(b)
    model(b)

    a = sub.add_parser("ask", help="answer a question with cited passages")
    a.add_argument("question")
    paths(a, corpus=False)
    model(a)
    a.add_argument("-k", type=int, default=5, help=f"number of passages, 1-{MAX_K} (default: %(default)s)")
    a.add_argument("--mode", choices=MODES, default="hybrid", help="retrieval mode (default: %(default)s)")
    a.add_argument("--json", action="store_true", help="print the answer as JSON")

    d = sub.add_parser("add", help="copy files into the corpus and update the index")
    d.add_argument("files", nargs="+")
    paths(d)
    model(d)

    r = sub.add_parser("remove", help="remove documents from the index and the corpus")
    r.add_argument("documents", nargs="+", metavar="DOC", help="doc_id: the path in the corpus, e.g. notes/a.md")
    paths(r)
    r.add_argument("--keep-files", action="store_true", help="remove from the index only, leave the corpus files")

    w = sub.add_parser("watch", help="keep the index in sync with the corpus folder until Ctrl-C")
    paths(w)
    model(w)
    w.add_argument("--quiet", type=float, default=None, metavar="SECONDS",
                   help="how long a changed file must stay unchanged before it is read (default: 0.5)")

    c = sub.add_parser("compact", help="fold the index's segments into one and drop removed passages for good")
    c.add_argument("--index", default=default_index_dir(), help="index folder (default: %(default)s)")
    store(c)

    e = sub.add_parser("eval", help="measure retrieval quality on a gold JSONL file")
    e.add_argument(
        "--gold",
        required=True,
        help='JSONL lines {"question": ..., "answers": [...], "kind": ..., "previous": ...} (see ftzqa.gold)',
    )
    paths(e, corpus=False)
    e.add_argument("--mode", choices=MODES, default="hybrid")
    e.add_argument("--compare", action="store_true", help="dense, bm25 and hybrid side by side")
    e.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s"
    )
    if not args.verbose:  # the commands print each skipped file themselves, once
        logging.getLogger("ftzqa.corpus").setLevel(logging.ERROR)
    try:
        handler = {
            "build": _build, "ask": _ask, "add": _add, "remove": _remove, "compact": _compact, "eval": _eval,
            "watch": _watch,
        }[args.command]
        return handler(args)
    except FtzqaError as exc:
        _error(str(exc))
        return 2
    except BrokenPipeError:  # the reader went away ("ftzqa eval ... | head"): stop quietly, as SIGPIPE would
        _silence_stdout()
        return 141
    except OSError as exc:  # a file ftzqa did not expect to fail: still one line, with the cause
        where = f" ({exc.filename})" if exc.filename else ""
        _error(f"{exc.strerror or exc}{where}; check the disk and the file's permissions, then try again")
        return 2
    except KeyboardInterrupt:
        print("ftzqa: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the Milvus engine's own errors: one line, with the store named
        if not type(exc).__module__.startswith("pymilvus"):
            raise
        store = getattr(args, "store", None) or os.environ.get("FTZQA_STORE", "")
        _error(f"the Milvus store {store!r} failed ({type(exc).__name__}: {exc}); check that it is reachable "
               f"and holds an index built by ftzqa (ftzqa build --store {store})")
        return 2


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not fail on the closed pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real stdout (tests, embedded use): nothing to do
        pass


def _error(message: str) -> None:
    print(f"ftzqa: error: {one_line(message)}", file=sys.stderr)


def _say(message: str) -> None:
    """A message built from file names or document text, on stderr, without terminal controls."""
    print(f"ftzqa: {one_line(message)}", file=sys.stderr)


def run() -> None:
    """The ``ftzqa`` console script: ``main``, then exit.

    After ``ask`` the process ends with ``os._exit`` once its output is flushed: ``ask`` only reads,
    and the interpreter's normal teardown of numpy, scipy (imported by bm25s), faiss and
    onnxruntime took ~0.3 s of a ~1.2 s cold ask (bench/speed.py) while freeing nothing the
    operating system does not free anyway. Every other command exits normally.
    """
    argv = sys.argv[1:]
    code = main(argv)
    if _parser().parse_known_args(argv)[0].command == "ask":
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except OSError:  # e.g. the reader of a pipe went away
            code = code or 1
        logging.shutdown()
        os._exit(code)
    raise SystemExit(code)


def _settings(args: argparse.Namespace) -> Any:
    from .settings import Settings

    return Settings.from_env(model=getattr(args, "model", None), device=getattr(args, "device", None))


def _build(args: argparse.Namespace) -> int:
    from .index import build

    summary = build(args.corpus, args.index, _settings(args), show_progress=sys.stderr.isatty(), store=args.store)
    for reason in summary.skipped:
        _say(f"skipped {reason}")
    print(summary.line())
    return 0


def _add(args: argparse.Namespace) -> int:
    from .ingest import add

    report = add(args.files, args.corpus, args.index, _settings(args), show_progress=sys.stderr.isatty(),
                 store=args.store)
    for message in report.duplicates:
        _say(message)
    for reason in report.rejected:
        _say(f"error: not added: {reason}")
    print(terminal_safe(report.line()))
    return 2 if report.rejected else 0


def _remove(args: argparse.Namespace) -> int:
    from .index import remove

    summary = remove(args.documents, None if args.keep_files else args.corpus, args.index, _settings(args),
                     store=args.store)
    where = "the index" if args.keep_files else "the index and the corpus"
    print(f"removed {len(set(args.documents))} document(s) from {where}; "
          f"{summary.documents} documents, {summary.passages} passages left ({summary.seconds:.1f} s)")
    return 0


def _watch(args: argparse.Namespace) -> int:
    import signal

    from .watch import QUIET_SECONDS, Watcher

    quiet = QUIET_SECONDS if args.quiet is None else args.quiet
    if not 0 <= quiet <= 3600:
        raise FtzqaError(f"--quiet of {args.quiet} is outside 0-3600 seconds; pass e.g. --quiet 0.5")
    settings = _settings(args)

    def load_model() -> Any:
        from .embed import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder(settings.model, settings.device)

    def report(line: str) -> None:
        print(one_line(line), flush=True)

    watcher = Watcher(args.corpus, args.index, settings, embedder=load_model, report=report, quiet=quiet,
                      store=args.store)
    signal.signal(signal.SIGTERM, lambda _signum, _frame: watcher.stop())
    try:
        watcher.run(ready=lambda: report(f"watching {args.corpus} for changes (Ctrl-C to stop)"))
    except KeyboardInterrupt:
        pass
    report("stopped watching")
    return 0


def _compact(args: argparse.Namespace) -> int:
    from .index import compact

    summary = compact(args.index, _settings(args), store=args.store)
    print(f"compacted into {summary.segments} segment(s): {summary.documents} documents, "
          f"{summary.passages} passages ({summary.seconds:.1f} s)")
    return 0


def _ask(args: argparse.Namespace) -> int:
    from .index import rebuild_command
    from .retrieve import Retriever, check_k, check_question
    from .storage.location import resolve

    settings = _settings(args)
    check_question(args.question, settings.max_question_chars)  # fail fast, before loading the model
    check_k(args.k)
    retriever = Retriever.load(args.index, model=args.model, settings=settings, store=args.store)
    stale = retriever.staleness(args.corpus)
    if stale.stale:
        corpus = args.corpus or retriever.store.manifest["corpus"]
        _say(
            f"warning: the index is stale (corpus changed: {stale.describe()}); "
            f"refresh it: {rebuild_command(corpus, resolve(args.index, args.store))}"
        )
    answer = retriever.search(args.question, k=args.k, mode=args.mode)
    if args.json:  # exact text; C1 and bidi controls written as \u escapes (json escapes the rest)
        print(json_safe(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2)))
    else:
        print(format_answer(answer, color=sys.stdout.isatty() and not os.environ.get("NO_COLOR")))
    return 0


def format_answer(answer: Answer, color: bool = False) -> str:
    """Plain-text rendering; the answering sentence is marked with ** ** (or bold when colored).

    Document text, titles and the question are untrusted: their terminal control sequences,
    control characters and bidi controls are removed before they are printed.
    """
    on, off = ("\033[1;33m", "\033[0m") if color else ("**", "**")
    lines = [f"Q: {one_line(answer.question)}"]
    if answer.corrections:
        lines.append(f"Searched for: {one_line(answer.searched)}")
    if answer.found:
        lines.append(f"Found (confidence {answer.confidence:.2f}). {answer.reason}".rstrip())
        lines.append("Best passages:")
    else:
        lines.append(answer.reason or "Not found: the documents do not contain the answer to this question.")
        if answer.hits:
            lines.append("Nearest passages, but not an answer (closest sentence marked):")
    for hit in answer.hits:
        p, ev = hit.passage, hit.evidence
        a, b = ev.start - p.start, ev.end - p.start
        clean = terminal_safe
        text = clean(p.text[:a]) + on + clean(p.text[a:b]) + off + clean(p.text[b:])
        lines.append("")
        lines.append(f"[{hit.rank}] score {hit.score:.3f}  {one_line(hit.citation)}")
        lines.append("    " + text.replace("\n", "\n    "))
    return "\n".join(lines)


def _eval(args: argparse.Namespace) -> int:
    from . import evaluate
    from .retrieve import Retriever

    retriever = Retriever.load(args.index, store=args.store)
    items = evaluate.load_gold(args.gold)
    modes = list(MODES) if args.compare else [args.mode]
    reports = {mode: evaluate.evaluate(retriever, items, mode) for mode in modes}
    if args.json:
        print(json.dumps({m: r.to_dict() for m, r in reports.items()}, indent=2))
    else:
        print(evaluate.format_reports(reports))
        print()
        print(evaluate.format_curve(reports))
    return 0


if __name__ == "__main__":
    run()
