"""Which streams a deployment syncs: one setting, ``ST_STREAMS``, read when the code
location loads (never at import).

A comma-separated list of modules (``crm``, ``payroll``: the first segment of the
module's URL prefix), stream names (``payroll_jobs_timesheets``), ``core`` (the 20 core
entities) or ``all`` (the default: every stream of the catalog); ``-name`` leaves a module
or a stream out (``all,-telecom,-marketingreputation``). An unknown name fails the load,
listing what is known.
"""

from __future__ import annotations

import os

from st_contract.catalog import MODULES
from st_contract.entities import ENTITIES, SPECS_BY_NAME, STREAM_SPECS, EntitySpec

SETTING = "ST_STREAMS"


class SelectionError(ValueError):
    """``ST_STREAMS`` names something the catalog does not have."""


def _names(item: str) -> set[str]:
    if item == "all":
        return {spec.name for spec in STREAM_SPECS}
    if item == "core":
        return {spec.name for spec in ENTITIES}
    if item in MODULES:
        return {spec.name for spec in STREAM_SPECS if spec.module == item}
    if item in SPECS_BY_NAME:
        return {item}
    raise SelectionError(
        f"{SETTING} names {item!r}, which is neither a module nor a stream. Modules: "
        f"{', '.join(sorted(MODULES))}; also 'all', 'core', or a stream name "
        "(python -c 'from st_contract.catalog import STREAMS; print([s.name for s in STREAMS])')."
    )


def parse_selection(text: str | None) -> tuple[EntitySpec, ...]:
    """The streams ``text`` selects, in the catalog's order (core entities first)."""
    items = [part.strip() for part in (text or "all").split(",") if part.strip()]
    chosen: set[str] = set()
    for item in items:
        if item.startswith("-"):
            chosen -= _names(item[1:])
        else:
            chosen |= _names(item)
    if not chosen:
        raise SelectionError(f"{SETTING}={text!r} selects no stream")
    core = [spec for spec in ENTITIES if spec.name in chosen]
    rest = [spec for spec in STREAM_SPECS if spec.name in chosen and spec.core is None]
    return (*core, *rest)


def selected_streams() -> tuple[EntitySpec, ...]:
    """The streams this deployment syncs (``ST_STREAMS``, read now)."""
    return parse_selection(os.environ.get(SETTING))
