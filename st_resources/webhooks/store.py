"""The received webhook events: table ``webhook_events`` in the write-back's database
(``ST_WRITEBACK_DB_URL``: SQLite under ``DAGSTER_HOME`` by default, or PostgreSQL).

``seq`` orders events by commit (the sensor's cursor); ``event_id`` is unique, so a
delivery retried or duplicated by ServiceTitan is stored once. Inserts take the table's
write lock (``BEGIN IMMEDIATE`` on SQLite through the queue's engine, ``LOCK TABLE`` on
PostgreSQL) so that ``seq`` becomes visible in order and a cursor never skips a row
committed late, as the write-back queue does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from st_contract.webhooks import WebhookEvent
from st_resources.writeback.identity import queue_identity

# The write-back's engine (one per URL and process, SQLite tuned for concurrent writers)
# and its default URL: the events live in the same database.
from st_resources.writeback.queue import default_db_url, shared_engine

metadata = sa.MetaData()

events_table = sa.Table(
    "webhook_events",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(100), nullable=False, unique=True),
    sa.Column("event_type", sa.String(100), nullable=False),
    sa.Column("entity", sa.String(100), nullable=False, index=True),
    sa.Column("entity_id", sa.BigInteger, nullable=False),
    sa.Column("occurred_on", sa.DateTime(timezone=True), nullable=False),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
)


def _utc(value: datetime) -> datetime:
    # SQLite hands timestamps back naive; they were stored as UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True)
class StoredEvent:
    """One stored event."""

    seq: int
    event_id: str
    event_type: str
    entity: str
    entity_id: int
    occurred_on: datetime
    received_at: datetime
    body: dict[str, Any]

    @property
    def modified_on(self) -> datetime:
        """The record's ``modifiedOn`` in the event's data, else when the event occurred."""
        text = self.body.get("data", {}).get("modifiedOn")
        if isinstance(text, str):
            try:
                return _utc(datetime.fromisoformat(text.replace("Z", "+00:00")))
            except ValueError:
                pass
        return self.occurred_on


class WebhookStore:
    """Stores and reads webhook events; safe for many threads and processes at once."""

    def __init__(self, url: str | None = None) -> None:
        self.url = url or default_db_url()
        self.engine = shared_engine(self.url)
        try:
            metadata.create_all(self.engine)
        except sa.exc.IntegrityError:
            metadata.create_all(self.engine)  # another process created it (PostgreSQL race)

    def __repr__(self) -> str:
        return f"WebhookStore({self.engine.url.render_as_string(hide_password=True)!r})"

    def identity(self) -> str:
        """The database's uuid (the write-back queue's): a sensor cursor is tied to it."""
        return queue_identity(self.engine)

    def add(self, event: WebhookEvent, raw: bytes) -> bool:
        """Store ``event`` (its raw body kept as sent); False when its id was stored before."""
        row = {
            "event_id": event.eventId,
            "event_type": event.eventType,
            "entity": event.entity,
            "entity_id": event.entityId,
            "occurred_on": _utc(event.occurredOn),
            "received_at": datetime.now(UTC),
            "body": raw.decode(),
        }
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql(f"LOCK TABLE {events_table.name} IN EXCLUSIVE MODE")
            exists = conn.execute(
                sa.select(events_table.c.seq).where(events_table.c.event_id == event.eventId)
            ).first()
            if exists is not None:
                return False
            conn.execute(events_table.insert().values(**row))
        return True

    def after(self, seq: int, limit: int = 1000) -> list[StoredEvent]:
        """Events stored after ``seq``, oldest first, at most ``limit``."""
        query = (
            sa.select(events_table)
            .where(events_table.c.seq > seq)
            .order_by(events_table.c.seq)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            StoredEvent(
                seq=r.seq,
                event_id=r.event_id,
                event_type=r.event_type,
                entity=r.entity,
                entity_id=r.entity_id,
                occurred_on=_utc(r.occurred_on),
                received_at=_utc(r.received_at),
                body=json.loads(r.body),
            )
            for r in rows
        ]

    def count(self) -> int:
        """How many events are stored."""
        with self.engine.connect() as conn:
            return int(
                conn.execute(sa.select(sa.func.count()).select_from(events_table)).scalar_one()
            )
