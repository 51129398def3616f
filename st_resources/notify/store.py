"""``NotifyStore``: subscribers and the sensor's state (the outbox is ``outbox.Outbox``).

Every transaction that inserts events, deliveries or attempts takes the tables' write lock
(``BEGIN IMMEDIATE`` on SQLite, ``LOCK TABLE ... EXCLUSIVE`` on PostgreSQL), as the
write-back queue does: ids then become visible in order, so the export sensor's cursor
over attempt ids never skips an attempt committed late.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa

from st_resources.notify.outbox import Outbox
from st_resources.notify.records import Event, Subscriber, subscriber_from_row
from st_resources.notify.tables import (
    CANCELED,
    PENDING,
    deliveries_table,
    events_table,
    state_table,
    subscribers_table,
)


class NotifyStore(Outbox):
    """The webhooks' tables in the write-back database (``url``: SQLAlchemy URL, default
    SQLite under ``DAGSTER_HOME``): subscribers and the sensor's state here, the outbox
    in ``Outbox``."""

    # --- subscribers -------------------------------------------------------------------------

    def subscribe(
        self, url: str, secret: str, secret_source: str, events: frozenset[str], now: datetime
    ) -> Subscriber:
        """Register ``url``; ``ValueError`` when the URL or the secret is unusable."""
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"subscriber URL must start with http:// or https://, not {url!r}")
        if len(secret) < 16:
            raise ValueError("the signing secret must have at least 16 characters")
        sub_id = uuid.uuid4().hex[:12]
        with self._writing(subscribers_table) as conn:
            conn.execute(
                subscribers_table.insert().values(
                    id=sub_id,
                    url=url,
                    secret=secret,
                    secret_source=secret_source,
                    events=",".join(sorted(events)),
                    active=True,
                    failures=0,
                    created_at=now,
                )
            )
        return self.subscriber(sub_id)

    def subscriber(self, sub_id: str) -> Subscriber:
        """One subscriber; ``KeyError`` naming it when unknown."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(subscribers_table).where(subscribers_table.c.id == sub_id)
            ).first()
        if row is None:
            raise KeyError(f"no subscriber {sub_id!r} (see `st-notify list`)")
        return subscriber_from_row(row)

    def subscribers(self, *, active_only: bool = True) -> list[Subscriber]:
        """The subscribers, oldest first."""
        query = sa.select(subscribers_table).order_by(subscribers_table.c.created_at)
        if active_only:
            query = query.where(subscribers_table.c.active.is_(True))
        with self.engine.connect() as conn:
            return [subscriber_from_row(r) for r in conn.execute(query)]

    def remove(self, sub_id: str) -> Subscriber:
        """Deactivate a subscriber and cancel its pending deliveries (the log is kept)."""
        self.subscriber(sub_id)
        with self._writing(subscribers_table, deliveries_table) as conn:
            conn.execute(
                subscribers_table.update()
                .where(subscribers_table.c.id == sub_id)
                .values(active=False)
            )
            conn.execute(
                deliveries_table.update()
                .where(
                    deliveries_table.c.subscriber_id == sub_id,
                    deliveries_table.c.status == PENDING,
                )
                .values(status=CANCELED)
            )
        return self.subscriber(sub_id)

    # --- the sensor's side -------------------------------------------------------------------

    def state(self, entity: str, keys: Iterable[str]) -> dict[str, str]:
        """The last value seen of each of ``keys`` of ``entity`` (missing: never seen)."""
        wanted = list(dict.fromkeys(keys))
        found: dict[str, str] = {}
        with self.engine.connect() as conn:
            for i in range(0, len(wanted), 500):
                query = sa.select(state_table.c.key, state_table.c.value).where(
                    state_table.c.entity == entity, state_table.c.key.in_(wanted[i : i + 500])
                )
                found.update({r.key: r.value for r in conn.execute(query)})
        return found

    def reset_state(self) -> None:
        """Forget every seen status (before a new baseline)."""
        with self._writing(state_table) as conn:
            conn.execute(state_table.delete())

    def record(
        self, seen: Iterable[tuple[str, str, str]], events: Iterable[Event], now: datetime
    ) -> int:
        """In one transaction: store the seen ``(entity, key, value)`` states and append
        each new event with a delivery per active subscriber that wants its type. Returns
        the deliveries enqueued (an event id already stored is not enqueued again)."""
        states = {(e, k): v for e, k, v in seen}
        enqueued = 0
        with self._writing(events_table, deliveries_table, state_table) as conn:
            self._store_state(conn, states, now)
            subs = [
                subscriber_from_row(r)
                for r in conn.execute(
                    sa.select(subscribers_table).where(subscribers_table.c.active.is_(True))
                )
            ]
            for event in events:
                targets = [s for s in subs if event.type in s.events]
                if not targets or self._has_event(conn, event.id):
                    continue
                conn.execute(
                    events_table.insert().values(
                        id=event.id,
                        type=event.type,
                        occurred_at=event.occurred_at,
                        body=event.body,
                        created_at=now,
                    )
                )
                rows = [
                    {
                        "event_id": event.id,
                        "subscriber_id": s.id,
                        "status": PENDING,
                        "attempts": 0,
                        "window_start": now,
                        "created_at": now,
                    }
                    for s in targets
                ]
                conn.execute(deliveries_table.insert(), rows)
                enqueued += len(rows)
        return enqueued

    @staticmethod
    def _has_event(conn: sa.Connection, event_id: str) -> bool:
        query = sa.select(events_table.c.seq).where(events_table.c.id == event_id)
        return conn.execute(query).first() is not None

    @staticmethod
    def _store_state(
        conn: sa.Connection, states: dict[tuple[str, str], str], now: datetime
    ) -> None:
        for entity in {e for e, _ in states}:
            keys = [k for e, k in states if e == entity]
            existing: dict[str, str] = {}
            for i in range(0, len(keys), 500):
                query = sa.select(state_table.c.key, state_table.c.value).where(
                    state_table.c.entity == entity, state_table.c.key.in_(keys[i : i + 500])
                )
                existing.update({r.key: r.value for r in conn.execute(query)})
            new = [
                {"entity": entity, "key": k, "value": states[(entity, k)], "updated_at": now}
                for k in keys
                if k not in existing
            ]
            if new:
                conn.execute(state_table.insert(), new)
            # The overlap re-reads records; only a changed value is written.
            for key in [k for k, v in existing.items() if v != states[(entity, k)]]:
                conn.execute(
                    state_table.update()
                    .where(state_table.c.entity == entity, state_table.c.key == key)
                    .values(value=states[(entity, key)], updated_at=now)
                )
