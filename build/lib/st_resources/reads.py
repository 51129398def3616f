"""Read helpers both backends share: API timestamps, window filters, JSON pages."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


def api_timestamp(value: datetime) -> str:
    """An aware datetime as the API's UTC timestamp string."""
    if value.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_timestamp(value: str) -> datetime:
    """An API timestamp (``...Z`` or with an offset) as an aware datetime."""
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def window_params(params: dict[str, Any] | None, lo: datetime, hi: datetime) -> dict[str, Any]:
    """``params`` narrowed to records with ``lo <= modifiedOn < hi`` (the session API's
    list filters; the v2 list endpoints take the same names)."""
    query = dict(params or {})
    query["modifiedOnOrAfter"] = api_timestamp(lo)
    query["modifiedBefore"] = api_timestamp(hi)
    return query


@dataclass
class Page:
    """One page of a list endpoint, as records in the session API's shape."""

    records: list[dict[str, Any]]
    next_cursor: str | None
    has_more: bool
