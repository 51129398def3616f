"""``st-sandbox``: serve the sandbox tenant, dump its ground truth, list its demo users."""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import signal
import sys
import threading
import time
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path

from st_sandbox.auth import DEMO_TOTP_SECRET
from st_sandbox.config import SandboxConfig

USERS_TEXT = f"""Demo users (sandbox only: these credentials are public):
  demo        / demo-password      MFA: TOTP, secret {DEMO_TOTP_SECRET}   roles: admin
  dispatcher  / dispatch-password  MFA: SMS (read codes from GET /_sandbox/outbox)   roles: dispatcher
  accountant  / account-password   MFA: e-mail (GET /_sandbox/outbox)   roles: accountant
  hvac        / hvac-password      no MFA   roles: readonly, HVAC business units only
  readonly    / readonly-password  no MFA   roles: readonly"""


def _datetime(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _add_config_flags(parser: argparse.ArgumentParser) -> None:
    for f in fields(SandboxConfig):
        flag = "--" + f.name.replace("_", "-")
        if f.type in ("bool", bool):
            parser.add_argument(
                flag, dest=f.name, action=argparse.BooleanOptionalAction, default=None
            )
        elif f.name == "anchor":
            parser.add_argument(
                flag,
                dest=f.name,
                type=_datetime,
                default=None,
                help="end of the generated history (ISO timestamp, default now)",
            )
        elif f.name == "unlicensed_modules":
            parser.add_argument(
                flag,
                dest=f.name,
                type=lambda text: [m for m in text.split(",") if m],
                default=None,
                help="modules the tenant has not licensed, comma-separated (payroll,telecom)",
            )
        else:
            kind = int if f.type in ("int", int) else float
            parser.add_argument(flag, dest=f.name, type=kind, default=None)
    parser.add_argument(
        "--activity",
        dest="activity_per_minute",
        type=int,
        default=None,
        help="changes per minute made by the sandbox's business activity",
    )


def _config(args: argparse.Namespace) -> SandboxConfig:
    values = {
        f.name: getattr(args, f.name)
        for f in fields(SandboxConfig)
        if getattr(args, f.name, None) is not None
    }
    return SandboxConfig(**values)


def outbox_code_command(base_url: str) -> str:
    """An ``ST_MFA_CODE_COMMAND`` that prints the newest SMS or e-mail code the sandbox at
    ``base_url`` sent (the client's generic code-command seam, used by demos and tests)."""
    return f"{shlex.quote(sys.executable)} -m st_sandbox.cli outbox-code --base-url {shlex.quote(base_url)}"


def print_outbox_code(base_url: str, timeout: float = 10.0) -> int:
    """Print the newest code sent to ``$ST_MFA_USERNAME`` by ``$ST_MFA_METHOD`` (set by the
    client when it runs the code command), waiting for it to arrive."""
    import httpx

    username = os.environ.get("ST_MFA_USERNAME", "")
    method = os.environ.get("ST_MFA_METHOD", "")
    if not username or method not in ("sms", "email"):
        print("outbox-code needs ST_MFA_USERNAME and ST_MFA_METHOD (sms or email)", file=sys.stderr)
        return 2
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = httpx.get(
            f"{base_url.rstrip('/')}/_sandbox/outbox", params={"username": username}, timeout=5
        )
        codes = [m["code"] for m in answer.json()["data"] if m["method"] == method]
        if codes:
            print(codes[-1])
            return 0
        time.sleep(0.1)
    print(f"no {method} code arrived in the sandbox outbox for {username!r}", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``st-sandbox``."""
    parser = argparse.ArgumentParser(
        prog="st-sandbox", description="A sandbox ServiceTitan tenant."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the tenant over HTTP")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--quiet", action="store_true", help="no request log lines")
    _add_config_flags(serve)
    dump = sub.add_parser("dump", help="write every entity as JSONL (ground truth)")
    dump.add_argument("--out", required=True, type=Path)
    _add_config_flags(dump)
    sub.add_parser("users", help="print the demo users")
    outbox = sub.add_parser(
        "outbox-code",
        help="print the newest SMS/e-mail code for $ST_MFA_USERNAME (an ST_MFA_CODE_COMMAND)",
    )
    outbox.add_argument("--base-url", required=True)
    args = parser.parse_args(argv)

    if args.command == "outbox-code":
        return print_outbox_code(args.base_url)

    if args.command == "users":
        print(USERS_TEXT)
        return 0
    try:
        config = _config(args)
    except ValueError as exc:
        parser.error(str(exc))
    if args.command == "dump":
        from st_sandbox.server import write_dump
        from st_sandbox.tenant import Tenant

        write_dump(Tenant.build(config), args.out)
        print(f"wrote {args.out}")
        return 0

    from st_sandbox.server import SandboxServer

    if args.quiet:
        config.log_requests = False
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    started = time.perf_counter()
    server = SandboxServer(config, host=args.host, port=args.port)
    counts = server.tenant.store.tables
    server.start()
    print(
        f"ServiceTitan sandbox listening on {server.base_url} "
        f"({config.customers} customers, seed {config.seed}, "
        f"{sum(len(t.records) for t in counts.values())} records, ready in {time.perf_counter() - started:.1f} s)"
    )
    print(USERS_TEXT, flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
