"""v2 export routes walk an entity in (modifiedOn, id) order from a continuation token
(``from``) that the tenant signs, so a client cannot forge a position; ``from`` may also
be a date, to start there."""

from __future__ import annotations

import base64
import bisect
import hashlib
import hmac
from typing import Any

import orjson

from st_sandbox.errors import ApiError
from st_sandbox.store import TenantStore
from st_sandbox.v2.params import parse_time
from st_sandbox.v2.state import V2State

Position = tuple[int, int]  # (modifiedOn µs, id) of the last record handed out


def encode_position(state: V2State, entity: str, position: Position) -> str:
    """The signed continuation token of ``position`` in ``entity``'s export."""
    body = base64.urlsafe_b64encode(orjson.dumps([entity, *position])).decode().rstrip("=")
    sig = hmac.new(state.secret, body.encode(), hashlib.sha256).hexdigest()[:16]
    return f"{body}.{sig}"


def decode_from(state: V2State, entity: str, raw: str | None) -> Position:
    """The position ``from`` stands for: the start, a date, or a token this tenant signed
    for this entity's export (a 400 for any other)."""
    if raw is None or raw == "":
        return (-1, -1)
    if "." not in raw or raw[:4].isdigit():
        us = parse_time(raw, "from")
        assert us is not None
        return (us, -1)
    body, _, sig = raw.rpartition(".")
    expected = hmac.new(state.secret, body.encode(), hashlib.sha256).hexdigest()[:16]
    if not hmac.compare_digest(sig.encode(), expected.encode()):
        raise ApiError(
            400,
            "invalid_continuation_token",
            "from is not a continuation token this tenant issued: start again without it",
        )
    name, us, rid = orjson.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    if name != entity:
        raise ApiError(
            400,
            "invalid_continuation_token",
            f"from belongs to the {name} export, not {entity}",
        )
    return (int(us), int(rid))


def export_chunk(
    state: V2State, store: TenantStore, entity: str, raw_from: str | None
) -> tuple[list[dict[str, Any]], Position, bool]:
    """The next records after ``from`` (export page size at most), the position of the
    last, and whether more follow."""
    position = decode_from(state, entity, raw_from)
    with store.lock:
        table = store.tables[entity]
        start = bisect.bisect_right(table.order, position)
        keys = table.order[start : start + state.export_page_size]
        rows = [orjson.loads(table.json(rid)) for _, rid in keys]
        more = start + len(keys) < len(table.order)
    return rows, (keys[-1] if keys else position), more


def export_body(
    state: V2State, rows: list[Any], entity: str, position: Position, more: bool
) -> bytes:
    """An export answer: ``hasMore``, ``continueFrom`` and the page's ``data``."""
    return orjson.dumps(
        {"hasMore": more, "continueFrom": encode_position(state, entity, position), "data": rows}
    )
