"""What v2 list routes share: their query parameters, the filters (``ids``, ``active``,
date ranges), the order (``sort``) and the page answer
(``page``/``pageSize``/``hasMore``/``totalCount``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import orjson
from fastapi import Query
from fastapi.responses import Response

from st_sandbox.clock import to_us
from st_sandbox.errors import ApiError
from st_sandbox.v2.state import MAX_PAGE_SIZE

MAX_IDS = 50
ACTIVE_VALUES = {"true": "true", "false": "false", "any": "any"}
PageQ = Annotated[int, Query(ge=1, le=10_000_000)]
SizeQ = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)]
Opt = Annotated[str | None, Query(max_length=2000)]
T = TypeVar("T")
# The fields every list sorts by (the specs: "Available fields are: Id, ModifiedOn,
# CreatedOn"), by their lower-case name; the specs spell them Id or ID.
SORT_FIELDS = {"id": "id", "modifiedon": "modifiedOn", "createdon": "createdOn"}


def parse_time(value: str | None, name: str) -> int | None:
    """Epoch µs of a date or date-time parameter (naive means UTC); a 400 if it is not one."""
    if value is None or value == "":
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(
            400, "validation_error", f"{name} is not a date or date-time: {value!r}"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return to_us(parsed.astimezone(UTC))
    except (OverflowError, ValueError):
        raise ApiError(400, "validation_error", f"{name} is out of range") from None


def parse_ids(raw: str | None, name: str = "ids") -> set[int] | None:
    """The ids of a comma-separated parameter (at most 50); a 400 otherwise."""
    if raw is None or raw == "":
        return None
    try:
        ids = {int(i) for i in raw.split(",") if i.strip()}
    except ValueError:
        raise ApiError(400, "validation_error", f"{name} must be comma-separated ids") from None
    if len(ids) > MAX_IDS:
        raise ApiError(400, "validation_error", f"{name} takes at most {MAX_IDS} ids; page instead")
    return ids


@dataclass(frozen=True)
class ListFilter:
    """The filters every v2 list route shares (``ids``, ``active``, date ranges)."""

    ids: set[int] | None
    active: str
    modified_on_or_after: int | None
    modified_before: int | None
    created_on_or_after: int | None
    created_before: int | None

    def matches(self, record: dict[str, Any], modified_us: int) -> bool:
        """Whether ``record`` (modified at ``modified_us``) passes every filter."""
        if self.ids is not None and record["id"] not in self.ids:
            return False
        if self.active != "any" and record.get("active", True) != (self.active == "true"):
            return False
        if self.modified_on_or_after is not None and modified_us < self.modified_on_or_after:
            return False
        if self.modified_before is not None and modified_us >= self.modified_before:
            return False
        if self.created_on_or_after is not None or self.created_before is not None:
            created = parse_time(record.get("createdOn"), "createdOn") or 0
            if self.created_on_or_after is not None and created < self.created_on_or_after:
                return False
            if self.created_before is not None and created >= self.created_before:
                return False
        return True


def list_filter(
    ids: str | None,
    active: str | None,
    modified_on_or_after: str | None,
    modified_before: str | None,
    created_on_or_after: str | None,
    created_before: str | None,
) -> ListFilter:
    """The filter of a list request's parameters (``active`` defaults to true)."""
    wanted = ACTIVE_VALUES.get((active or "true").lower())
    if wanted is None:
        raise ApiError(400, "validation_error", "active must be True, False or Any")
    return ListFilter(
        parse_ids(ids),
        wanted,
        parse_time(modified_on_or_after, "modifiedOnOrAfter"),
        parse_time(modified_before, "modifiedBefore"),
        parse_time(created_on_or_after, "createdOnOrAfter"),
        parse_time(created_before, "createdBefore"),
    )


def parse_sort(raw: str | None) -> tuple[str, bool] | None:
    """The record field and direction (descending?) of ``sort`` (``+Field``, ``-Field`` or
    ``Field``: ascending by default); None without one; a 400 for a field lists cannot
    sort by."""
    text = (raw or "").strip()  # an unencoded "+" arrives as a space: ascending
    if not text:
        return None
    descending = text.startswith("-")
    name = text.lstrip("+-").strip()
    field = SORT_FIELDS.get(name.lower())
    if field is None:
        message = f"sort by {name!r} is not supported: use Id, ModifiedOn or CreatedOn"
        raise ApiError(
            400, "validation_error", message, {"errors": [{"loc": ["sort"], "msg": message}]}
        )
    return field, descending


def sort_rows(
    rows: list[T], sort: str | None, record: Callable[[T], dict[str, Any]] | None = None
) -> list[T]:
    """``rows`` in the order ``sort`` asks for (ties by id); as they are without one.
    ``record`` gives a row's record where the rows are not records themselves (ids)."""
    parsed = parse_sort(sort)
    if parsed is None:
        return rows
    field, descending = parsed
    of: Callable[[T], dict[str, Any]] = record or (lambda row: row)  # type: ignore[assignment,return-value]

    def key(row: T) -> tuple[bool, Any, Any]:
        rec = of(row)
        value = rec.get(field)
        return (value is None, value, rec.get("id"))

    return sorted(rows, key=key, reverse=descending)


def list_page(
    matched: list[T],
    page: int,
    page_size: int,
    include_total: bool,
    render: Callable[[list[T]], list[Any]],
    *,
    sort: str | None = None,
    record: Callable[[T], dict[str, Any]] | None = None,
) -> Response:
    """One page of a v2 list answer, in ``sort``'s order (``sort_rows``; ``record`` maps
    a row to its record where rows are ids); only the page's own rows are rendered."""
    matched = sort_rows(matched, sort, record)
    skip = (page - 1) * page_size
    body = {
        "page": page,
        "pageSize": page_size,
        "hasMore": skip + page_size < len(matched),
        "totalCount": len(matched) if include_total else None,
        "data": render(matched[skip : skip + page_size]),
    }
    return Response(orjson.dumps(body), media_type="application/json")


def external_filter(
    guids: dict[tuple[str, int], str],
    entity: str,
    guid: str | None,
    key: str | None,
    values: str | None,
) -> Callable[[int, dict[str, Any]], bool]:
    """The official ``externalData*`` lookup of a list: records whose external data,
    stored with application guid ``guid``, has ``key`` with one of ``values`` (at most
    50, comma-separated). ``key`` and ``values`` go together (400 otherwise); the lookup
    needs the guid, as the official API only shows an application its own data."""
    if key is None and values is None:
        return lambda rid, record: True
    if key is None or values is None:
        raise ApiError(
            400,
            "validation_error",
            "externalDataKey and externalDataValues must be given together",
            {"errors": [{"loc": ["externalDataKey"], "msg": "give both key and values"}]},
        )
    wanted = {v.strip() for v in values.split(",") if v.strip()}
    if len(wanted) > MAX_IDS:
        raise ApiError(400, "validation_error", f"externalDataValues takes at most {MAX_IDS}")

    def matches(rid: int, record: dict[str, Any]) -> bool:
        if guid is None or guids.get((entity, rid), "").lower() != guid.lower():
            return False
        return any(
            item.get("key") == key and item.get("value") in wanted
            for item in record.get("externalData") or []
        )

    return matches
