"""The queue's identity: a uuid stored in the queue's own database.

A sensor's cursor is a position in one queue (a ``seq`` or an audit id). The identity ties
the cursor to that queue: a recreated database, or ``ST_WRITEBACK_DB_URL`` pointed at
another one (SQLite to PostgreSQL, say), has another identity, so the sensor starts over
from the beginning instead of skipping the new queue's first requests.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa

identity_metadata = sa.MetaData()

queue_info_table = sa.Table(
    "writeback_queue_info",
    identity_metadata,
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("value", sa.String(64), nullable=False),
)

IDENTITY = "identity"


def _read(conn: sa.Connection) -> str | None:
    return conn.execute(
        sa.select(queue_info_table.c.value).where(queue_info_table.c.name == IDENTITY)
    ).scalar_one_or_none()


def queue_identity(engine: sa.Engine) -> str:
    """The identity of the queue behind ``engine``, created on first use.

    Read on every call, never cached: the database may have been recreated since.
    """
    try:
        identity_metadata.create_all(engine)
    except sa.exc.IntegrityError:
        identity_metadata.create_all(engine)  # another process created it (PostgreSQL race)
    with engine.connect() as conn:
        existing = _read(conn)
    if existing is not None:
        return existing
    # SQLite's engine begins with BEGIN IMMEDIATE; PostgreSQL needs the lock: two
    # processes creating the identity at once must agree on one.
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"LOCK TABLE {queue_info_table.name} IN EXCLUSIVE MODE")
        existing = _read(conn)
        if existing is None:
            existing = str(uuid.uuid4())
            conn.execute(queue_info_table.insert().values(name=IDENTITY, value=existing))
    return existing
