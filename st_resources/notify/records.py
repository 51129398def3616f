"""The webhooks' records as the store hands them out: subscribers, events, due deliveries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from st_resources.notify.tables import EVENT_TYPES, utc
from st_resources.redact import register_secret


@dataclass(frozen=True)
class Subscriber:
    """A registered URL; ``secret`` never appears in its repr or ``to_json``."""

    id: str
    url: str
    secret: str = field(repr=False)
    secret_source: str
    events: frozenset[str]
    active: bool
    failures: int
    next_attempt_at: datetime | None
    created_at: datetime

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready view for the CLI (where the secret came from, not the secret)."""
        return {
            "id": self.id,
            "url": display_url(self.url),
            "secret": self.secret_source,
            "events": sorted(self.events),
            "active": self.active,
            "failures": self.failures,
            "next_attempt_at": _iso(self.next_attempt_at),
            "created_at": _iso(self.created_at),
        }


@dataclass(frozen=True)
class Event:
    """One notification: its id (stable across retries and replays), type, time and body."""

    id: str
    type: str
    occurred_at: datetime
    body: str


@dataclass(frozen=True)
class Due:
    """A delivery to attempt now: the outbox row with its event's body."""

    id: int
    event_id: str
    event_type: str
    body: str
    attempts: int
    window_start: datetime


def display_url(url: str) -> str:
    """``url`` without credentials or query (either may hold a token), for logs and lists."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    query = "?..." if parts.query else ""
    return f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path}{query}"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def parse_events(text: str) -> frozenset[str]:
    """``all`` or a comma-separated list of event types; a clear error naming bad ones."""
    if text.strip() == "all":
        return frozenset(EVENT_TYPES)
    wanted = frozenset(t.strip() for t in text.split(",") if t.strip())
    unknown = sorted(wanted - set(EVENT_TYPES))
    if unknown or not wanted:
        raise ValueError(
            f"unknown event type(s) {', '.join(unknown) or '(none given)'}; "
            f"use 'all' or some of {', '.join(EVENT_TYPES)}"
        )
    return wanted


def subscriber_from_row(row: Any) -> Subscriber:
    """A ``notify_subscribers`` row as a ``Subscriber`` (its secret registered for redaction)."""
    m = row._mapping
    register_secret(m["secret"])  # masked in any log or error from now on
    created = utc(m["created_at"])
    assert created is not None
    return Subscriber(
        id=m["id"],
        url=m["url"],
        secret=m["secret"],
        secret_source=m["secret_source"],
        events=frozenset(m["events"].split(",")),
        active=m["active"],
        failures=m["failures"],
        next_attempt_at=utc(m["next_attempt_at"]),
        created_at=created,
    )
