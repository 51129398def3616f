"""The webhooks' tables, in the write-back database (SQLite or PostgreSQL, SQLAlchemy Core).

- ``notify_subscribers``: a URL, its signing secret (stored as given: it signs every
  request; never printed, logged or exported), the event types it wants, and its backoff
  (consecutive failures, when it may be tried next).
- ``notify_events``: one row per event, with the exact body sent (every retry and replay
  sends the same bytes and the same event id).
- ``notify_deliveries``: the outbox, one row per event x subscriber.
- ``notify_attempts``: the delivery log, one append-only row per attempt; its ``id``
  orders attempts by commit (the export sensor's cursor).
- ``notify_state``: the last status the sensor saw per job and appointment, and the
  payment applications it has seen.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import sqlalchemy as sa

from st_resources.writeback.queue import WriteQueue

PENDING, DELIVERED, DEAD, CANCELED = "pending", "delivered", "dead", "canceled"
DELIVERY_STATUSES = (PENDING, DELIVERED, DEAD, CANCELED)
EVENT_TYPES = ("job.dispatched", "job.working", "job.done", "job.canceled", "invoice.paid")

metadata = sa.MetaData()
_TS = sa.DateTime(timezone=True)

subscribers_table = sa.Table(
    "notify_subscribers",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("secret", sa.Text, nullable=False),
    sa.Column("secret_source", sa.String(300), nullable=False),
    sa.Column("events", sa.Text, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, default=True),
    sa.Column("failures", sa.Integer, nullable=False, default=0),
    sa.Column("next_attempt_at", _TS),
    sa.Column("created_at", _TS, nullable=False),
)

events_table = sa.Table(
    "notify_events",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(40), nullable=False, unique=True),
    sa.Column("type", sa.String(30), nullable=False),
    sa.Column("occurred_at", _TS, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("created_at", _TS, nullable=False),
)

deliveries_table = sa.Table(
    "notify_deliveries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(40), nullable=False, index=True),
    sa.Column("subscriber_id", sa.String(36), nullable=False, index=True),
    sa.Column("status", sa.String(12), nullable=False, index=True),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    # When the current 24-hour retry window began: the enqueue, or the last replay.
    sa.Column("window_start", _TS, nullable=False),
    sa.Column("next_attempt_at", _TS),
    sa.Column("last_status_code", sa.Integer),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", _TS, nullable=False),
    sa.Column("delivered_at", _TS),
    sa.UniqueConstraint("event_id", "subscriber_id", name="uq_notify_delivery"),
)

attempts_table = sa.Table(
    "notify_attempts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("delivery_id", sa.Integer, nullable=False, index=True),
    sa.Column("event_id", sa.String(40), nullable=False),
    sa.Column("subscriber_id", sa.String(36), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("at", _TS, nullable=False),
    sa.Column("outcome", sa.String(12), nullable=False),
    sa.Column("status_code", sa.Integer),
    sa.Column("error", sa.Text),
    sa.Column("duration_ms", sa.Float, nullable=False),
)

state_table = sa.Table(
    "notify_state",
    metadata,
    sa.Column("entity", sa.String(20), primary_key=True),
    sa.Column("key", sa.String(60), primary_key=True),
    sa.Column("value", sa.String(30), nullable=False),
    sa.Column("updated_at", _TS, nullable=False),
)


_created: set[sa.Engine] = set()
_created_lock = threading.Lock()


def notify_engine(url: str | None) -> sa.Engine:
    """The write-back database's engine (shared with the queue: the same SQLite locking,
    ``BEGIN IMMEDIATE``), with the webhooks' tables created on first use."""
    engine = WriteQueue(url).engine
    # Checked once per engine and process (a sensor builds a store on every tick).
    with _created_lock:
        if engine not in _created:
            try:
                metadata.create_all(engine)
            except sa.exc.IntegrityError:
                metadata.create_all(engine)  # another process created them (PostgreSQL race)
            _created.add(engine)
    return engine


def utc(value: datetime | None) -> datetime | None:
    """A stored timestamp as aware UTC (SQLite hands them back naive)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
