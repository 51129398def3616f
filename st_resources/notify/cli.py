"""``st-notify`` (``python -m st_resources.notify``): webhook subscribers, their deliveries
and the delivery worker.

    st-notify subscribe --url https://example.com/hooks --secret-env HOOK_SECRET \\
        --events job.dispatched,job.done
    st-notify list
    st-notify remove <subscriber id>
    st-notify deliveries --status dead --subscriber <id>
    st-notify replay <delivery id>
    st-notify replay --subscriber <id> --since 2026-05-01T00:00:00Z
    st-notify deliver --forever

The store is ``ST_WRITEBACK_DB_URL`` (or ``--db-url``; default SQLite under
``DAGSTER_HOME``). Secrets are read from a variable or a file, stored to sign, and never
printed: ``list`` shows where each came from.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from st_resources.notify.records import parse_events
from st_resources.notify.store import NotifyStore
from st_resources.notify.tables import DELIVERY_STATUSES
from st_resources.notify.worker import Worker, utc_now
from st_resources.reads import parse_timestamp
from st_resources.writeback.queue import configured_db_url


def _print(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


def _secret(args: argparse.Namespace) -> tuple[str, str]:
    """(the secret, where it came from) from ``--secret-env`` or ``--secret-file``."""
    if args.secret_env:
        value = os.environ.get(args.secret_env, "")
        if not value:
            raise ValueError(f"--secret-env {args.secret_env}: the variable is unset or empty")
        return value, f"env:{args.secret_env}"
    path = Path(args.secret_file)
    if not path.is_file():
        raise ValueError(f"--secret-file {path}: no such file")
    value = path.read_text().strip()
    if not value:
        raise ValueError(f"--secret-file {path}: the file is empty")
    return value, f"file:{path.resolve()}"


def _since(text: str) -> datetime:
    try:
        value = parse_timestamp(text)
    except ValueError:
        raise ValueError(f"--since {text!r}: use an ISO time, e.g. 2026-05-01T00:00:00Z") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _subscribe(store: NotifyStore, args: argparse.Namespace) -> int:
    secret, source = _secret(args)
    sub = store.subscribe(args.url, secret, source, parse_events(args.events), utc_now())
    _print(sub.to_json())
    return 0


def _replay(store: NotifyStore, args: argparse.Namespace) -> int:
    if args.delivery_id is not None:
        count = store.replay(args.delivery_id, utc_now())
    elif args.subscriber and args.since:
        store.subscriber(args.subscriber)
        count = store.replay_since(args.subscriber, _since(args.since), utc_now())
    else:
        raise ValueError("replay needs a DELIVERY_ID, or --subscriber ID with --since TIME")
    _print({"requeued": count})
    return 0


def _deliver(store: NotifyStore, args: argparse.Namespace) -> int:
    worker = Worker(store, timeout=args.timeout, per_subscriber=args.per_subscriber)
    try:
        if not args.forever:
            _print(worker.deliver_once().__dict__)
            return 0
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            worker.run_forever(args.poll_seconds, stop)
        except KeyboardInterrupt:
            stop.set()
        return 0
    finally:
        worker.close()


def _run(store: NotifyStore, args: argparse.Namespace) -> int:
    if args.command == "subscribe":
        return _subscribe(store, args)
    if args.command == "list":
        _print([s.to_json() for s in store.subscribers(active_only=not args.all)])
    elif args.command == "remove":
        _print(store.remove(args.id).to_json())
    elif args.command == "deliveries":
        rows = store.deliveries(status=args.status, subscriber=args.subscriber, limit=args.limit)
        _print(rows)
    elif args.command == "replay":
        return _replay(store, args)
    elif args.command == "deliver":
        return _deliver(store, args)
    return 0


def parser() -> argparse.ArgumentParser:
    """The command line."""
    p = argparse.ArgumentParser(prog="st-notify", description="Webhooks out.")
    p.add_argument("--db-url", help="SQLAlchemy URL of the store (default ST_WRITEBACK_DB_URL)")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("subscribe", help="register a URL")
    s.add_argument("--url", required=True)
    secret = s.add_mutually_exclusive_group(required=True)
    secret.add_argument("--secret-env", help="a variable holding the signing secret")
    secret.add_argument("--secret-file", help="a file holding the signing secret")
    s.add_argument("--events", default="all", help="comma-separated event types, or all")
    ls = sub.add_parser("list", help="the subscribers (never their secrets)")
    ls.add_argument("--all", action="store_true", help="removed ones too")
    sub.add_parser("remove", help="remove a subscriber").add_argument("id")
    d = sub.add_parser("deliveries", help="the outbox, newest first")
    d.add_argument("--status", choices=DELIVERY_STATUSES)
    d.add_argument("--subscriber")
    d.add_argument("--limit", type=int, default=100)
    r = sub.add_parser("replay", help="queue deliveries again (same event ids)")
    r.add_argument("delivery_id", nargs="?", type=int)
    r.add_argument("--subscriber")
    r.add_argument("--since", help="events that occurred at or after this ISO time")
    w = sub.add_parser("deliver", help="the worker: one pass, or --forever")
    w.add_argument("--forever", action="store_true")
    w.add_argument("--poll-seconds", type=float, default=1.0)
    w.add_argument("--timeout", type=float, default=10.0, help="seconds per request")
    w.add_argument("--per-subscriber", type=int, default=50, help="deliveries per pass")
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the command line; exit 2 with the reason on bad input."""
    args = parser().parse_args(argv)
    try:
        store = NotifyStore(configured_db_url(args.db_url))
        return _run(store, args)
    except (ValueError, KeyError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        print(f"st-notify: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
