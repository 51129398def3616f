"""One poll of the tenant for the ``notify_events`` sensor: baseline or detect, then
enqueue. The sensor only enqueues; the worker (``st-notify deliver``) delivers.

The cursor is JSON ``{"store": <database identity>, "since": <newest modifiedOn seen>}``.
Without subscribers nothing is read and ``since`` is dropped, so the first poll after a
subscription (or after the database changed) takes a new baseline instead of announcing
everything that changed meanwhile.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from st_resources.backend import Backend
from st_resources.notify.events import baseline, detect
from st_resources.notify.store import NotifyStore
from st_resources.reads import api_timestamp, parse_timestamp


@dataclass(frozen=True)
class PollResult:
    """The new cursor, the deliveries enqueued and what happened, in words."""

    cursor: str
    enqueued: int
    message: str


def tenant_id(backend: Backend) -> str | None:
    """The tenant's id when the backend knows it (v2), for the events' ``tenantId``."""
    value = getattr(getattr(backend, "settings", None), "tenant_id", None)
    return str(value) if value is not None else None


def _cursor(identity: str, since: datetime | None) -> str:
    return json.dumps({"store": identity, "since": api_timestamp(since) if since else None})


def poll(
    store: NotifyStore, backend: Backend, cursor: str | None, now: datetime | None = None
) -> PollResult:
    """Read what changed since ``cursor`` and enqueue its events (see the module)."""
    now = now or datetime.now(UTC)
    identity = store.identity()
    if not store.subscribers():
        return PollResult(_cursor(identity, None), 0, "no subscribers: nothing watched")
    state = json.loads(cursor) if cursor else {}
    since = state.get("since") if state.get("store") == identity else None
    if since is None:
        store.reset_state()
        found = baseline(backend)
        store.record(found.seen, [], now)
        mark = found.high_water or now
        return PollResult(_cursor(identity, mark), 0, f"baseline of {len(found.seen)} statuses")
    start = parse_timestamp(since)
    found = detect(backend, store.state, start, tenant_id(backend))
    enqueued = store.record(found.seen, found.events, now)
    mark = max(start, found.high_water) if found.high_water else start
    message = f"{len(found.events)} event(s), {enqueued} delivery(ies) enqueued"
    return PollResult(_cursor(identity, mark), enqueued, message)
