"""The cursors of the queue's sensors: ``{"queue": <uuid>, "seq": n}``, a position in one
queue, so that a recreated or switched queue is read from its start."""

from __future__ import annotations

import json


def parse_cursor(cursor: str | None, identity: str) -> int:
    """The last position a sensor handled in the queue ``identity`` (0 before the first
    tick). The cursor of another queue (a recreated or switched database) or of the old
    plain-number format also gives 0: starting over skips nothing, and run keys keep a
    request from being launched twice."""
    if not cursor:
        return 0
    try:
        value = json.loads(cursor)
    except ValueError:
        raise ValueError(f"sensor cursor {cursor!r} is not JSON") from None
    if not isinstance(value, dict) or value.get("queue") != identity:
        return 0
    position = value.get("seq")
    if not isinstance(position, int) or position < 0:
        raise ValueError(f"sensor cursor {cursor!r} has no valid seq")
    return position


def dump_cursor(identity: str, position: int) -> str:
    """The cursor of a position in the queue ``identity``."""
    return json.dumps({"queue": identity, "seq": position})
