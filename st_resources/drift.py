"""Schema drift: what a stream's records, as the API sends them, have beyond, without or
in another type than the fields its spec defines (``st_contract.catalog``).

Pure functions: the ingest check (``st_assets/defs/ingest/drift.py``) feeds them a sample
of the API's records and the ``_extra`` column of the landing (where fields the spec does
not know are kept).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from st_contract.catalog import Node

# The JSON kinds each catalog type accepts (money may come as a decimal string).
_ACCEPTS: dict[str, tuple[type, ...]] = {
    "int64": (int,),
    "float64": (int, float, str),
    "decimal": (int, float, str),
    "bool": (bool,),
    "string": (str,),
    "timestamp": (str,),
    "date": (str,),
    "struct": (dict,),
    "list": (list,),
}


@dataclass
class Drift:
    """Fields sent that the spec does not define (with an example value), fields the spec
    defines that no record sent, and fields sent as another JSON type (spec type and
    what was sent)."""

    new: dict[str, Any] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    retyped: dict[str, str] = field(default_factory=dict)

    @property
    def found(self) -> bool:
        """Whether anything drifted."""
        return bool(self.new or self.missing or self.retyped)


def _fits(value: Any, node: Node) -> bool:
    if value is None or node["type"] == "json":
        return True
    kinds = _ACCEPTS[node["type"]]
    if isinstance(value, bool) and bool not in kinds:
        return False
    return isinstance(value, kinds)


def compare(
    records: Iterable[Mapping[str, Any]],
    fields: list[Node],
    also_known: Iterable[str] = (),
    typed_elsewhere: Iterable[str] = (),
) -> Drift:
    """The drift of ``records`` (top-level fields) against a spec's ``fields``.
    ``also_known``: fields a backend's own contract adds (the session API's core shapes);
    ``typed_elsewhere``: fields whose type that contract sets, not the spec."""
    spec = {node["name"]: node for node in fields}
    known = set(spec) | set(also_known)
    untyped = set(typed_elsewhere)
    drift = Drift()
    seen: set[str] = set()
    for record in records:
        for name, value in record.items():
            seen.add(name)
            if name not in known:
                drift.new.setdefault(name, value)
            elif name in spec and name not in untyped and not _fits(value, spec[name]):
                drift.retyped.setdefault(
                    name, f"{spec[name]['type']} sent as {type(value).__name__}"
                )
    if seen:
        drift.missing = sorted(set(spec) - seen)
    return drift
