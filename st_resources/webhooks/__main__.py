"""``st-webhooks-receiver`` (``python -m st_resources.webhooks``): serve the webhook
receiver.

    ST_WEBHOOK_HMAC_KEY=... st-webhooks-receiver --host 0.0.0.0 --port 8089

The HMAC key comes from ``ST_WEBHOOK_HMAC_KEY`` (the key of the ServiceTitan app), read
at start and never logged; events go to ``ST_WRITEBACK_DB_URL`` (or ``--db-url``;
default SQLite under ``DAGSTER_HOME``).
"""

from __future__ import annotations

import argparse
import os
import sys

import uvicorn

from st_resources.webhooks.app import PATH, create_app
from st_resources.webhooks.store import WebhookStore
from st_resources.writeback.queue import configured_db_url

KEY_ENV = "ST_WEBHOOK_HMAC_KEY"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="st-webhooks-receiver", description="Receive ServiceTitan v2 webhooks."
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8089, help="TCP port (default 8089)")
    parser.add_argument(
        "--db-url", default=None, help="SQLAlchemy URL of the store (ST_WRITEBACK_DB_URL)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point: validate the settings, then serve until interrupted."""
    args = _parser().parse_args(argv)
    key = os.environ.get(KEY_ENV, "")
    if not key:
        print(
            f"{KEY_ENV} is not set: set it to the HMAC key of the ServiceTitan app", file=sys.stderr
        )
        return 2
    if not 1 <= args.port <= 65535:
        print(f"--port {args.port} is not a TCP port (1-65535)", file=sys.stderr)
        return 2
    try:
        store = WebhookStore(configured_db_url(args.db_url))
        app = create_app(store, key)
    except ValueError as exc:
        print(f"st-webhooks-receiver: {exc}", file=sys.stderr)
        return 2
    print(f"Receiving webhooks at http://{args.host}:{args.port}{PATH} into {store!r}", flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
