"""The web page: ``python app.py`` serves a chat over the index on http://127.0.0.1:7860.

Flags: --host / --port (or Gradio's GRADIO_SERVER_NAME / GRADIO_SERVER_PORT), --index
(FTZQA_INDEX_DIR, default ``index``), --corpus (FTZQA_CORPUS_DIR, default ``corpus``), --k.
The index is built first when it is missing or older than the corpus.
"""

from __future__ import annotations

import argparse
import logging

from ftzqa.settings import Settings, default_corpus_dir, default_index_dir


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="app.py", description="Serve the ftzqa chat page.")
    parser.add_argument("--host", help="address to listen on (env GRADIO_SERVER_NAME; default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (env GRADIO_SERVER_PORT; default 7860 or the next free)")
    parser.add_argument("--index", default=default_index_dir(), help="index folder (env FTZQA_INDEX_DIR; %(default)s)")
    parser.add_argument(
        "--corpus", default=default_corpus_dir(), help="corpus folder (env FTZQA_CORPUS_DIR; %(default)s)"
    )
    parser.add_argument("--k", type=int, default=3, help="passages shown per answer (default: %(default)s)")
    args = parser.parse_args(argv)
    if not 1 <= args.k <= 10:
        parser.error(f"--k of {args.k} is outside 1-10; pass a number from 1 to 10")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("ftzqa").setLevel(logging.INFO)
    from ftzqa.web.service import Service
    from ftzqa.web.ui import build_ui, launch

    service = Service(args.corpus, args.index, Settings.from_env())
    logging.getLogger("ftzqa").info("%s", service.start())
    launch(build_ui(service, default_k=args.k), server_name=args.host, server_port=args.port)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
