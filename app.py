"""The web page: ``python app.py`` serves a chat over the index on http://127.0.0.1:7860.

Flags: --host / --port (or Gradio's GRADIO_SERVER_NAME / GRADIO_SERVER_PORT), --index
(FTZQA_INDEX_DIR, default ``index``), --store (FTZQA_STORE: ``milvus:PATH.db`` or
``milvus://HOST:PORT`` for the Milvus store), --corpus (FTZQA_CORPUS_DIR, default ``corpus``), --k.
Access: --auth user:password (repeatable; FTZQA_AUTH, comma-separated), --auth-file FILE (one
user:password per line), --read-only (FTZQA_READ_ONLY=1), --upload-users alice,bob
(FTZQA_UPLOAD_USERS). Agents: --mcp (FTZQA_MCP=1) serves the MCP tool ``ask``; --mcp-token TOKEN
(FTZQA_MCP_TOKEN, required with logins). --watch (FTZQA_WATCH=1): keep the index in sync with the
corpus folder (``ftzqa watch`` in a thread). An existing index is served at once and refreshed in the background when
the corpus changed; a missing one is built first.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from ftzqa.settings import Settings, default_corpus_dir, default_index_dir, env_flag


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="app.py", description="Serve the ftzqa chat page.")
    parser.add_argument("--host", help="address to listen on (env GRADIO_SERVER_NAME; default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (env GRADIO_SERVER_PORT; default 7860 or the next free)")
    parser.add_argument("--index", default=default_index_dir(), help="index folder (env FTZQA_INDEX_DIR; %(default)s)")
    parser.add_argument(
        "--corpus", default=default_corpus_dir(), help="corpus folder (env FTZQA_CORPUS_DIR; %(default)s)"
    )
    parser.add_argument(
        "--store", default=None,
        help="embedded (the --index folder, default), milvus:PATH.db (Milvus Lite) or milvus://HOST:PORT "
        "(env FTZQA_STORE)",
    )
    parser.add_argument("--k", type=int, default=3, help="passages shown per answer (default: %(default)s)")
    parser.add_argument(
        "--auth", action="append", default=[], metavar="USER:PASSWORD",
        help="require a login; repeat for more users (env FTZQA_AUTH: comma-separated user:password pairs)",
    )
    parser.add_argument("--auth-file", metavar="FILE", help="logins, one user:password per line (# comments)")
    parser.add_argument(
        "--read-only", action="store_true", default=env_flag("FTZQA_READ_ONLY"),
        help="no upload panel and no upload handler: nobody can add documents (env FTZQA_READ_ONLY=1)",
    )
    parser.add_argument(
        "--upload-users", metavar="USER,USER", default=os.environ.get("FTZQA_UPLOAD_USERS") or None,
        help="with logins: only these users may add documents (env FTZQA_UPLOAD_USERS)",
    )
    parser.add_argument(
        "--mcp", action="store_true", default=env_flag("FTZQA_MCP"),
        help="also serve the search as the MCP tool `ask` at /gradio_api/mcp/ (env FTZQA_MCP=1)",
    )
    parser.add_argument(
        "--mcp-token", metavar="TOKEN", default=os.environ.get("FTZQA_MCP_TOKEN") or None,
        help="MCP clients must send Authorization: Bearer TOKEN; required with logins (env FTZQA_MCP_TOKEN)",
    )
    parser.add_argument(
        "--watch", action="store_true", default=env_flag("FTZQA_WATCH"),
        help="apply files added, changed or deleted in the corpus folder to the index (env FTZQA_WATCH=1)",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.k <= 10:
        parser.error(f"--k of {args.k} is outside 1-10; pass a number from 1 to 10")
    from ftzqa.web.access import AccessError, make_access

    try:
        args.access = make_access(
            args.auth, args.auth_file, os.environ.get("FTZQA_AUTH"), args.read_only, args.upload_users
        )
    except AccessError as exc:
        parser.error(str(exc))
    if args.mcp:
        from ftzqa.web.mcp_tool import mcp_problem

        problem = mcp_problem(args.access.login, args.mcp_token)
        if problem:
            parser.error(problem)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("ftzqa").setLevel(logging.INFO)
    from ftzqa.web.access import exposure_warning

    host = args.host or os.environ.get("GRADIO_SERVER_NAME") or "127.0.0.1"
    warning = exposure_warning(host, args.access)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    from ftzqa.errors import FtzqaError
    from ftzqa.web.service import Service
    from ftzqa.web.ui import build_ui, launch

    try:
        service = Service(args.corpus, args.index, Settings.from_env(), access=args.access, store=args.store)
        logging.getLogger("ftzqa").info("%s", service.start(background=True))
        demo = build_ui(service, default_k=args.k, mcp=args.mcp)
        if args.watch:
            from ftzqa.web.sync import watch_corpus

            watch_corpus(service)
    except FtzqaError as exc:
        print(f"app.py: error: {exc}", file=sys.stderr)
        return 2
    launch(demo, service, server_name=args.host, server_port=args.port, mcp=args.mcp, mcp_token=args.mcp_token)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
