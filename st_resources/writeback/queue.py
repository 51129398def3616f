"""The write-request queue and its audit log: two tables on SQLite (the default, a file
under ``DAGSTER_HOME``) or PostgreSQL (production), through SQLAlchemy Core.

- ``writeback_requests``: one row per request. ``seq`` orders requests by commit (the
  sensor's cursor); ``id`` is the uuid that is also the run key and the Idempotency-Key.
- ``writeback_audit``: append-only, one row per attempt to send a request (who, when,
  which request and run, the API's requestId, the outcome). Rows are only ever inserted.

Every transaction that inserts takes the table's write lock (``BEGIN IMMEDIATE`` on
SQLite, ``LOCK TABLE ... EXCLUSIVE`` on PostgreSQL): the de-duplication check and the
insert are then atomic, and ``seq``/audit ids become visible in order, so a cursor over
them never skips a row committed late.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import sqlalchemy as sa
from pydantic import Field

from st_resources.redact import redact
from st_resources.writeback.identity import queue_identity
from st_resources.writeback.payloads import Payload, parse_payload, payload_json

PENDING, RUNNING = "pending", "running"
SUCCEEDED, CONFLICT, REJECTED, FAILED = "succeeded", "conflict", "rejected", "failed"
STATUSES = (PENDING, RUNNING, SUCCEEDED, CONFLICT, REJECTED, FAILED)
TERMINAL = frozenset({SUCCEEDED, CONFLICT, REJECTED, FAILED})
SECRET_KEYS = ("token", "password", "secret", "authorization")

metadata = sa.MetaData()

requests_table = sa.Table(
    "writeback_requests",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(36), nullable=False, unique=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("business_key", sa.String(120), nullable=False, index=True),
    sa.Column("payload", sa.Text, nullable=False),
    # The exact body sent (after the guard resolved "any" technician), fixed before the
    # first send so that every retry sends the same bytes with the same Idempotency-Key.
    sa.Column("sent_body", sa.Text),
    sa.Column("status", sa.String(12), nullable=False, index=True),
    sa.Column("result", sa.Text),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("requested_by", sa.String(200), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
)

audit_table = sa.Table(
    "writeback_audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("request_id", sa.String(36), nullable=False, index=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("requested_by", sa.String(200), nullable=False),
    sa.Column("run_id", sa.String(64)),
    sa.Column("outcome", sa.String(20), nullable=False),
    sa.Column("http_status", sa.Integer),
    sa.Column("api_request_id", sa.String(100)),
    sa.Column("replayed", sa.Boolean, nullable=False, default=False),
    sa.Column("error_code", sa.String(60)),
    sa.Column("message", sa.Text),
)


def default_db_url() -> str:
    """SQLite under ``DAGSTER_HOME`` (read when called, never at import)."""
    home = Path(os.environ.get("DAGSTER_HOME") or ".dagster_home")
    return f"sqlite:///{(home / 'writeback.sqlite').resolve()}"


def configured_db_url(explicit: str | None = None) -> str | None:
    """The write-back database a command names: ``--db-url``, else ``ST_WRITEBACK_DB_URL``,
    else None (the default, ``default_db_url``); read when called."""
    return explicit or os.environ.get("ST_WRITEBACK_DB_URL") or None


def scrub(value: Any) -> Any:
    """``value`` with secret-named keys dropped and secret-shaped text masked."""
    if isinstance(value, dict):
        return {
            k: scrub(v)
            for k, v in value.items()
            if not any(s in str(k).lower() for s in SECRET_KEYS)
        }
    if isinstance(value, list):
        return [scrub(v) for v in value]
    if isinstance(value, str):
        return redact(value)
    return value


def business_key(kind: str, payload: Payload) -> str:
    """What makes two requests "the same business request".

    A job gets one invoice, so any two invoice requests for a job are the same; for
    dispatch and job creation, identical payloads are (a double click, a re-run script).
    """
    job_id = getattr(payload, "job_id", None)
    if kind == "invoice" and job_id is not None:
        return f"invoice:job:{job_id}"
    digest = hashlib.sha256(payload_json(payload).encode()).hexdigest()[:40]
    return f"{kind}:{digest}"


def _dedupe_statuses(kind: str) -> tuple[str, ...]:
    # An invoice that succeeded must never be requested again; a dispatch may be
    # repeated later on purpose (e.g. back to the same technician after a reassignment).
    return (PENDING, RUNNING, SUCCEEDED) if kind == "invoice" else (PENDING, RUNNING)


@dataclass(frozen=True)
class WriteRequest:
    """One row of the queue."""

    seq: int
    id: str
    kind: str
    business_key: str
    payload: dict[str, Any]
    sent_body: dict[str, Any] | None
    status: str
    result: dict[str, Any] | None
    attempts: int
    requested_by: str
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    def model(self) -> Payload:
        """The validated payload model."""
        return parse_payload(self.kind, self.payload)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready view for the CLI and the UI (payload secrets masked)."""
        return {
            "id": self.id,
            "kind": self.kind,
            "status": self.status,
            "attempts": self.attempts,
            "requested_by": self.requested_by,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "payload": scrub(self.payload),
            "result": self.result,
        }


@dataclass(frozen=True)
class Submitted:
    """The answer to a submit: the request, and whether it was an existing one."""

    request: WriteRequest
    duplicate: bool


def _utc(value: datetime | None) -> datetime | None:
    # SQLite hands timestamps back naive; they were stored as UTC.
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _row(row: Any) -> WriteRequest:
    m = row._mapping
    created, updated = _utc(m["created_at"]), _utc(m["updated_at"])
    assert created is not None and updated is not None
    return WriteRequest(
        seq=m["seq"],
        id=m["id"],
        kind=m["kind"],
        business_key=m["business_key"],
        payload=json.loads(m["payload"]),
        sent_body=json.loads(m["sent_body"]) if m["sent_body"] else None,
        status=m["status"],
        result=json.loads(m["result"]) if m["result"] else None,
        attempts=m["attempts"],
        requested_by=m["requested_by"],
        created_at=created,
        updated_at=updated,
        finished_at=_utc(m["finished_at"]),
    )


_engines: dict[str, sa.Engine] = {}
_engines_lock = threading.Lock()


def shared_engine(url: str) -> sa.Engine:
    """One engine per URL and process, with the queue's schema created on first use: the
    write-back's database, which the webhook and notification stores share."""
    with _engines_lock:
        engine = _engines.get(url)
        if engine is not None:
            return engine
        if url.startswith("sqlite"):
            path = url.split(":///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            engine = sa.create_engine(
                url, connect_args={"timeout": 60, "check_same_thread": False}, pool_size=20
            )

            @sa.event.listens_for(engine, "connect")
            def _connect(dbapi_conn: Any, _record: Any) -> None:
                # Let SQLAlchemy's "begin" event issue BEGIN IMMEDIATE instead of pysqlite.
                dbapi_conn.isolation_level = None
                cursor = dbapi_conn.cursor()
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA busy_timeout=60000")
                cursor.close()

            @sa.event.listens_for(engine, "begin")
            def _begin(conn: sa.Connection) -> None:
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        else:
            engine = sa.create_engine(url, pool_size=10, max_overflow=30, pool_pre_ping=True)
        try:
            metadata.create_all(engine)
        except sa.exc.IntegrityError:
            # Another process created the tables at the same moment (PostgreSQL catalog race).
            metadata.create_all(engine)
        _engines[url] = engine
        return engine


@contextmanager
def locked(engine: sa.Engine, *tables: sa.Table) -> Iterator[sa.Connection]:
    """A transaction holding the write lock of ``tables``: ``BEGIN IMMEDIATE`` on SQLite
    (the engine's), ``LOCK TABLE ... EXCLUSIVE`` on PostgreSQL, always in name order so
    two writers never wait on each other's locks."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            names = ", ".join(sorted(t.name for t in tables))
            conn.exec_driver_sql(f"LOCK TABLE {names} IN EXCLUSIVE MODE")
        yield conn


class WriteQueue:
    """The queue's operations; safe for many threads and processes at once."""

    def __init__(self, url: str | None = None) -> None:
        self.url = url or default_db_url()
        self.engine = shared_engine(self.url)

    def __repr__(self) -> str:
        return f"WriteQueue({self.engine.url.render_as_string(hide_password=True)!r})"

    def identity(self) -> str:
        """This queue's uuid (another database, even at the same URL, has another one)."""
        return queue_identity(self.engine)

    def _writing(self, *tables: sa.Table) -> AbstractContextManager[sa.Connection]:
        return locked(self.engine, *tables)

    # --- submitting ------------------------------------------------------------------------

    def submit(
        self,
        kind: str,
        payload: Any,
        *,
        requested_by: str,
        check: Callable[[str, Payload], None] | None = None,
    ) -> Submitted:
        """Validate ``payload`` and store it as a pending request.

        A bad payload raises ``PayloadError`` and nothing is stored; ``check`` (e.g.
        ``preflight.tenant_check``) may refuse it too, after reading the tenant. The same business
        request (see ``business_key``) still in flight, or an invoice that already
        succeeded, is returned instead of a second request (``duplicate=True``).
        """
        model = parse_payload(kind, payload)
        if check is not None:
            check(kind, model)
        if not requested_by or len(requested_by) > 200:
            raise ValueError("requested_by must name who asks (1..200 characters)")
        key = business_key(kind, model)
        now = datetime.now(UTC)
        with self._writing(requests_table) as conn:
            existing = conn.execute(
                sa.select(requests_table)
                .where(
                    requests_table.c.business_key == key,
                    requests_table.c.status.in_(_dedupe_statuses(kind)),
                )
                .order_by(requests_table.c.seq)
                .limit(1)
            ).first()
            if existing is not None:
                return Submitted(_row(existing), duplicate=True)
            request_id = str(uuid.uuid4())
            conn.execute(
                requests_table.insert().values(
                    id=request_id,
                    kind=kind,
                    business_key=key,
                    payload=payload_json(model),
                    status=PENDING,
                    attempts=0,
                    requested_by=requested_by,
                    created_at=now,
                    updated_at=now,
                )
            )
            row = conn.execute(
                sa.select(requests_table).where(requests_table.c.id == request_id)
            ).one()
        return Submitted(_row(row), duplicate=False)

    # --- reading ---------------------------------------------------------------------------

    def get(self, request_id: str) -> WriteRequest:
        """The request ``request_id``; ``KeyError`` with a clear message if unknown."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(requests_table).where(requests_table.c.id == request_id)
            ).first()
        if row is None:
            raise KeyError(f"no write request {request_id!r} in {self!r}")
        return _row(row)

    def recent(
        self, *, status: str | None = None, kind: str | None = None, limit: int = 100
    ) -> list[WriteRequest]:
        """The newest requests first, optionally of one status and kind."""
        query = sa.select(requests_table).order_by(requests_table.c.seq.desc()).limit(limit)
        if status is not None:
            if status not in STATUSES:
                raise ValueError(f"unknown status {status!r}; use one of {', '.join(STATUSES)}")
            query = query.where(requests_table.c.status == status)
        if kind is not None:
            query = query.where(requests_table.c.kind == kind)
        with self.engine.connect() as conn:
            return [_row(r) for r in conn.execute(query)]

    def pending_after(self, seq: int, limit: int = 100) -> list[WriteRequest]:
        """Pending requests committed after cursor ``seq``, oldest first."""
        query = (
            sa.select(requests_table)
            .where(requests_table.c.seq > seq, requests_table.c.status == PENDING)
            .order_by(requests_table.c.seq)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [_row(r) for r in conn.execute(query)]

    def audit(self, request_id: str | None = None) -> list[dict[str, Any]]:
        """Audit rows, oldest first (of one request if given)."""
        query = sa.select(audit_table).order_by(audit_table.c.id)
        if request_id is not None:
            query = query.where(audit_table.c.request_id == request_id)
        with self.engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(query)]
        for row in rows:
            row["at"] = _utc(row["at"])
        return rows

    def succeeded_after(self, audit_id: int, limit: int = 500) -> list[tuple[int, str]]:
        """(audit id, kind) of the successful attempts after audit row ``audit_id``."""
        query = (
            sa.select(audit_table.c.id, audit_table.c.kind)
            .where(audit_table.c.id > audit_id, audit_table.c.outcome == SUCCEEDED)
            .order_by(audit_table.c.id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [(r.id, r.kind) for r in conn.execute(query)]

    def sent_dispatches(
        self, *, exclude: str, limit: int = 5000
    ) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
        """(id, payload, sent body) of dispatches sent or being sent, newest first."""
        query = (
            sa.select(requests_table.c.id, requests_table.c.payload, requests_table.c.sent_body)
            .where(
                requests_table.c.kind == "dispatch",
                requests_table.c.status.in_((RUNNING, SUCCEEDED)),
                requests_table.c.sent_body.is_not(None),
                requests_table.c.id != exclude,
            )
            .order_by(requests_table.c.seq.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [
                (r.id, json.loads(r.payload), json.loads(r.sent_body)) for r in conn.execute(query)
            ]

    # --- the op's side ---------------------------------------------------------------------

    def claim(self, request_id: str) -> WriteRequest:
        """Mark a pending request running and return it.

        A request already ``running`` is a re-executed run (the first one may have died
        after sending): it is returned as is, and the same Idempotency-Key makes the API
        replay instead of writing twice. A finished request is returned unchanged.
        """
        now = datetime.now(UTC)
        with self._writing(requests_table) as conn:
            conn.execute(
                requests_table.update()
                .where(requests_table.c.id == request_id, requests_table.c.status == PENDING)
                .values(status=RUNNING, updated_at=now)
            )
        return self.get(request_id)

    def fix_sent_body(self, request_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Store the body to send unless one is stored already; return the stored one."""
        with self._writing(requests_table) as conn:
            conn.execute(
                requests_table.update()
                .where(requests_table.c.id == request_id, requests_table.c.sent_body.is_(None))
                .values(sent_body=json.dumps(body, sort_keys=True))
            )
            stored = conn.execute(
                sa.select(requests_table.c.sent_body).where(requests_table.c.id == request_id)
            ).scalar_one()
        return json.loads(stored)  # type: ignore[no-any-return]

    def record_attempt(
        self,
        request: WriteRequest,
        *,
        outcome: str,
        status: str | None,
        result: dict[str, Any] | None = None,
        run_id: str | None = None,
        http_status: int | None = None,
        api_request_id: str | None = None,
        replayed: bool = False,
        error_code: str | None = None,
        message: str | None = None,
    ) -> WriteRequest:
        """Append the attempt's audit row and count it; finish the request if ``status``.

        Both happen in one transaction, so ``attempts`` always equals the number of audit
        rows of the request. A finished request is never changed again.
        """
        now = datetime.now(UTC)
        with self._writing(requests_table, audit_table) as conn:
            current = conn.execute(
                sa.select(requests_table.c.status, requests_table.c.attempts).where(
                    requests_table.c.id == request.id
                )
            ).one()
            if current.status in TERMINAL:
                raise RuntimeError(
                    f"write request {request.id} already ended as {current.status}; "
                    "submit a new request to try again"
                )
            attempt = current.attempts + 1
            conn.execute(
                audit_table.insert().values(
                    request_id=request.id,
                    kind=request.kind,
                    attempt=attempt,
                    at=now,
                    requested_by=request.requested_by,
                    run_id=run_id,
                    outcome=outcome,
                    http_status=http_status,
                    api_request_id=api_request_id,
                    replayed=replayed,
                    error_code=error_code,
                    message=redact(message)[:2000] if message else None,
                )
            )
            values: dict[str, Any] = {"attempts": attempt, "updated_at": now}
            if status is not None:
                values["status"] = status
                if status in TERMINAL:
                    values["finished_at"] = now
            if result is not None:
                values["result"] = json.dumps(scrub(result), sort_keys=True, default=str)
            conn.execute(
                requests_table.update().where(requests_table.c.id == request.id).values(**values)
            )
        return self.get(request.id)


class WriteQueueResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """The write-request queue as a Dagster resource (key ``writeback_queue``).

    ``db_url`` is a SQLAlchemy URL (``ST_WRITEBACK_DB_URL`` through ``dg.EnvVar``);
    without it the queue is a SQLite file under ``DAGSTER_HOME``.
    """

    db_url: str | None = Field(default=None, description="SQLAlchemy URL of the queue")

    def get_queue(self) -> WriteQueue:
        """The queue (the engine is shared by the process)."""
        return WriteQueue(self.db_url or None)
