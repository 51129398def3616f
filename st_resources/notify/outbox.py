"""The outbox's side of the store: what is due, recording attempts (with the subscriber's
backoff and the 24-hour window), replays, and the rows the delivery-log asset exports."""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from st_resources.notify.records import Due, Subscriber, subscriber_from_row
from st_resources.notify.tables import (
    DEAD,
    DELIVERED,
    DELIVERY_STATUSES,
    PENDING,
    attempts_table,
    deliveries_table,
    events_table,
    notify_engine,
    subscribers_table,
    utc,
)
from st_resources.redact import redact
from st_resources.writeback.identity import queue_identity
from st_resources.writeback.queue import locked

RETRY_WINDOW = timedelta(hours=24)
MAX_ERROR_CHARS = 500


class Outbox:
    """The outbox and its attempt log (``NotifyStore`` adds subscribers and state)."""

    def __init__(self, url: str | None = None) -> None:
        self.engine = notify_engine(url)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.engine.url.render_as_string(hide_password=True)!r})"

    def identity(self) -> str:
        """The database's uuid (a recreated database has another: the sensor re-baselines)."""
        return queue_identity(self.engine)

    def _writing(self, *tables: sa.Table) -> AbstractContextManager[sa.Connection]:
        return locked(self.engine, *tables)

    def due(self, now: datetime, per_subscriber: int) -> list[tuple[Subscriber, list[Due]]]:
        """The pending deliveries of each active subscriber whose next attempt is due,
        oldest first, at most ``per_subscriber`` each (a busy subscriber cannot starve
        the others)."""
        query = sa.select(subscribers_table).where(
            subscribers_table.c.active.is_(True),
            sa.or_(
                subscribers_table.c.next_attempt_at.is_(None),
                subscribers_table.c.next_attempt_at <= now,
            ),
        )
        out = []
        with self.engine.connect() as conn:
            for sub in [subscriber_from_row(r) for r in conn.execute(query)]:
                rows = conn.execute(
                    sa.select(deliveries_table, events_table.c.type, events_table.c.body)
                    .join(events_table, events_table.c.id == deliveries_table.c.event_id)
                    .where(
                        deliveries_table.c.subscriber_id == sub.id,
                        deliveries_table.c.status == PENDING,
                    )
                    .order_by(deliveries_table.c.id)
                    .limit(per_subscriber)
                ).all()
                if rows:
                    out.append((sub, [_due(r) for r in rows]))
        return out

    def record_attempt(
        self,
        due: Due,
        subscriber: Subscriber,
        *,
        now: datetime,
        failures_before: int,
        status_code: int | None,
        error: str | None,
        duration_ms: float,
        retry_at: datetime | None,
    ) -> str:
        """Log one attempt and move the delivery on; returns its new status.

        ``retry_at`` None: delivered (the subscriber's backoff resets). Otherwise the
        subscriber has ``failures_before + 1`` consecutive failures and is next tried at
        ``retry_at``, unless the delivery's 24-hour window has passed: then it and every
        pending delivery of the subscriber whose window has passed too are ``dead``.
        """
        ok = retry_at is None
        expired = not ok and now - due.window_start >= RETRY_WINDOW
        status = DELIVERED if ok else DEAD if expired else PENDING
        message = redact(error)[:MAX_ERROR_CHARS] if error else None
        with self._writing(attempts_table, deliveries_table, subscribers_table) as conn:
            conn.execute(
                attempts_table.insert().values(
                    delivery_id=due.id,
                    event_id=due.event_id,
                    subscriber_id=subscriber.id,
                    attempt=due.attempts + 1,
                    at=now,
                    outcome=DELIVERED if ok else "failed",
                    status_code=status_code,
                    error=message,
                    duration_ms=duration_ms,
                )
            )
            conn.execute(
                deliveries_table.update()
                .where(deliveries_table.c.id == due.id)
                .values(
                    status=status,
                    attempts=due.attempts + 1,
                    last_status_code=status_code,
                    last_error=message,
                    next_attempt_at=None if ok or expired else retry_at,
                    delivered_at=now if ok else None,
                )
            )
            conn.execute(
                subscribers_table.update()
                .where(subscribers_table.c.id == subscriber.id)
                .values(
                    failures=0 if ok else failures_before + 1,
                    next_attempt_at=None if ok else retry_at,
                )
            )
            if expired:
                self._expire(conn, subscriber.id, now)
        return status

    @staticmethod
    def _expire(conn: sa.Connection, sub_id: str, now: datetime) -> None:
        # The subscriber failed throughout these deliveries' windows too.
        conn.execute(
            deliveries_table.update()
            .where(
                deliveries_table.c.subscriber_id == sub_id,
                deliveries_table.c.status == PENDING,
                deliveries_table.c.window_start <= now - RETRY_WINDOW,
            )
            .values(status=DEAD, next_attempt_at=None, last_error="retry window of 24 h passed")
        )

    # --- replays -----------------------------------------------------------------------------

    def replay(self, delivery_id: int, now: datetime) -> int:
        """Queue delivery ``delivery_id`` again (same event id and body, a new 24-hour
        window, its subscriber due now); ``KeyError`` when there is none."""
        with self.engine.connect() as conn:
            found = conn.execute(
                sa.select(deliveries_table.c.subscriber_id).where(
                    deliveries_table.c.id == delivery_id
                )
            ).scalar_one_or_none()
        if found is None:
            raise KeyError(f"no delivery {delivery_id} (see `st-notify deliveries`)")
        return self._requeue(deliveries_table.c.id == delivery_id, found, now)

    def replay_since(self, sub_id: str, since: datetime, now: datetime) -> int:
        """Queue again every delivery to ``sub_id`` of an event that occurred at or after
        ``since``; returns how many."""
        events = sa.select(events_table.c.id).where(events_table.c.occurred_at >= since)
        where = sa.and_(
            deliveries_table.c.subscriber_id == sub_id, deliveries_table.c.event_id.in_(events)
        )
        return self._requeue(where, sub_id, now)

    def _requeue(self, where: sa.ColumnElement[bool], sub_id: str, now: datetime) -> int:
        with self._writing(deliveries_table, subscribers_table) as conn:
            count = conn.execute(
                deliveries_table.update()
                .where(where)
                .values(status=PENDING, window_start=now, next_attempt_at=None, delivered_at=None)
            ).rowcount
            conn.execute(
                subscribers_table.update()
                .where(subscribers_table.c.id == sub_id)
                .values(failures=0, next_attempt_at=None)
            )
        return int(count)

    # --- reading -----------------------------------------------------------------------------

    def deliveries(
        self, *, status: str | None = None, subscriber: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        """Outbox rows, newest first, with their event's type (JSON-ready, no secrets)."""
        query = (
            sa.select(deliveries_table, events_table.c.type, events_table.c.occurred_at)
            .join(events_table, events_table.c.id == deliveries_table.c.event_id)
            .order_by(deliveries_table.c.id.desc())
            .limit(limit)
        )
        if status is not None:
            if status not in DELIVERY_STATUSES:
                raise ValueError(f"unknown status {status!r}; use {', '.join(DELIVERY_STATUSES)}")
            query = query.where(deliveries_table.c.status == status)
        if subscriber is not None:
            query = query.where(deliveries_table.c.subscriber_id == subscriber)
        with self.engine.connect() as conn:
            return [_jsonable(dict(r._mapping)) for r in conn.execute(query)]

    def attempts(self, delivery_id: int | None = None) -> list[dict[str, Any]]:
        """The attempt log, oldest first (of one delivery if given)."""
        query = sa.select(attempts_table).order_by(attempts_table.c.id)
        if delivery_id is not None:
            query = query.where(attempts_table.c.delivery_id == delivery_id)
        with self.engine.connect() as conn:
            return [_jsonable(dict(r._mapping)) for r in conn.execute(query)]

    def last_attempt_id(self) -> int:
        """The newest attempt's id (0 before the first)."""
        with self.engine.connect() as conn:
            value = conn.execute(sa.select(sa.func.max(attempts_table.c.id))).scalar()
        return int(value or 0)

    def export_rows(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(the attempt log joined with its event and subscriber URL, the outbox with its
        event), for the warehouse; never the secrets."""
        log = (
            sa.select(
                attempts_table,
                events_table.c.type.label("event_type"),
                events_table.c.occurred_at,
                subscribers_table.c.url.label("subscriber_url"),
            )
            .join(events_table, events_table.c.id == attempts_table.c.event_id)
            .join(subscribers_table, subscribers_table.c.id == attempts_table.c.subscriber_id)
            .order_by(attempts_table.c.id)
        )
        outbox = (
            sa.select(
                deliveries_table,
                events_table.c.type.label("event_type"),
                events_table.c.occurred_at,
            )
            .join(events_table, events_table.c.id == deliveries_table.c.event_id)
            .order_by(deliveries_table.c.id)
        )
        with self.engine.connect() as conn:
            return (
                [_aware(dict(r._mapping)) for r in conn.execute(log)],
                [_aware(dict(r._mapping)) for r in conn.execute(outbox)],
            )


def _due(row: Any) -> Due:
    m = row._mapping
    start = utc(m["window_start"])
    assert start is not None
    return Due(m["id"], m["event_id"], m["type"], m["body"], m["attempts"], start)


def _aware(row: dict[str, Any]) -> dict[str, Any]:
    return {k: utc(v) if isinstance(v, datetime) else v for k, v in row.items()}


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in _aware(row).items()}
