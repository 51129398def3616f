"""The drift knob: ``POST /_sandbox/drift {stream, field, value}`` adds a field the spec
does not know to every record of a stream (``DELETE`` takes it away again), so a test can
check that the product notices schema drift. Both surfaces serve the drifted records: the
field goes into the stored records and their cached JSON is dropped.

The routes carry comments rather than docstrings: a docstring would become the
operation's description in ``/openapi.json``, where the summary already says it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from st_contract.catalog import STREAMS_BY_NAME
from st_sandbox.errors import ApiError
from st_sandbox.routes.deps import TenantDep, json_response
from st_sandbox.store import TenantStore

router = APIRouter(tags=["sandbox"])


class DriftBody(BaseModel):
    """A field to add to (or remove from) a stream's records."""

    model_config = ConfigDict(extra="forbid")
    stream: str = Field(min_length=1, max_length=200)
    field: str = Field(min_length=1, max_length=200)
    value: Any = "drift"


def set_drift(store: TenantStore, stream: str, field: str, value: Any, add: bool = True) -> int:
    """Add ``field: value`` to (or remove ``field`` from) every record of a catalog stream;
    how many records changed. A field the spec defines is refused: that is not drift."""
    if stream not in STREAMS_BY_NAME or stream not in store.tables:
        raise ApiError(404, "not_found", f"unknown stream {stream!r}")
    from st_contract.catalog import fields

    if any(f["name"] == field for f in fields(stream)):
        raise ApiError(400, "validation_error", f"{stream} already defines {field!r}")
    with store.lock:
        table = store.tables[stream]
        for record in table.records.values():
            # Top-level only: records may share nested objects, never their own dict.
            if add:
                record[field] = value
            else:
                record.pop(field, None)
        table.json_cache.clear()
        return len(table.records)


@router.post("/_sandbox/drift", summary="Add a field the spec does not know")
async def add_drift(body: DriftBody, tenant: TenantDep) -> Response:
    changed = set_drift(tenant.store, body.stream, body.field, body.value)
    return json_response({"stream": body.stream, "field": body.field, "records": changed})


@router.delete("/_sandbox/drift", summary="Remove a drifted field")
async def remove_drift(body: DriftBody, tenant: TenantDep) -> Response:
    changed = set_drift(tenant.store, body.stream, body.field, None, add=False)
    return json_response({"stream": body.stream, "field": body.field, "records": changed})
