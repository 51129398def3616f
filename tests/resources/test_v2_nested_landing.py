"""The spec's nested fields of the core streams land typed from the v2 backend (the
sandbox's v2 surface sends every spec property), by both page decoders, with nothing in
``_extra`` and nothing for the drift check to warn about; the session backend, which
does not send them, lands them as nulls."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from pydantic import SecretStr

from st_assets.defs.ingest.drift import sample_drift
from st_contract.entities import ENTITIES_BY_NAME
from st_resources.page_decode import fast_page_table, python_page_table
from st_resources.session import SessionBackend
from st_resources.settings import SessionSettings, V2Settings
from st_resources.transport import Call
from st_resources.v2 import V2Backend
from st_resources.v2_pages import page_shape
from st_sandbox.server import SandboxServer
from st_sandbox.v2.oauth import DEMO_APPS, SANDBOX_TENANT_ID
from tests.helpers import v2_resource

# Each stream with a nested field the core model lacks (path: struct column, field).
NESTED = {
    "business_units": ("address", "isMilitary"),
    "estimates": ("items", "skuAccount"),
    "invoices": ("items", "isChargeable"),
    "pricebook_services": ("categories", "active"),
    "tax_zones": ("rates", "taxBaseType"),
}
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _v2(base_url: str) -> V2Backend:
    app = DEMO_APPS[0]
    return V2Backend(
        V2Settings(
            client_id=app.client_id,
            client_secret=SecretStr(app.client_secret),
            app_key=SecretStr(app.app_key),
            tenant_id=SANDBOX_TENANT_ID,
            auth_url=base_url,
            api_url=base_url,
            rate_limit=1000,
            page_size=50,
        )
    )


def _values(table: pa.Table, column: str, field: str) -> list[Any]:
    """Every value of ``field`` in ``column`` (a struct, or a list of structs)."""
    found = []
    for value in table.column(column).to_pylist():
        for record in value if isinstance(value, list) else [value]:
            if record is not None:
                found.append(record[field])
    return found


@pytest.mark.parametrize("entity", sorted(NESTED))
def test_v2_lands_the_nested_spec_fields_typed(
    sandbox: SandboxServer, entity: str, tmp_path: Path
) -> None:
    spec = ENTITIES_BY_NAME[entity]
    column, field = NESTED[entity]
    with _v2(sandbox.base_url) as backend:
        table = pa.concat_tables(backend.iter_tables(spec, NOW))
        # Both decoders of one page agree (the fast C++ one takes the nested fields).
        stream = spec.stream
        url = stream.url(SANDBOX_TENANT_ID, stream.read_path)
        query = {"from": ""} if stream.read == "export" else {"page": 1, "pageSize": 50}
        body = backend.transport.request(Call("GET", url, params=query)).content
    assert table.num_rows and table.column("_extra").null_count == table.num_rows
    assert any(v is not None for v in _values(table, column, field)), (column, field)
    shape = page_shape(entity, "continueFrom" if stream.read == "export" else None)
    fast = fast_page_table(spec.model, body, NOW, shape).table
    assert fast.equals(python_page_table(spec.model, body, NOW, shape).table)
    assert fast.column("_extra").null_count == fast.num_rows
    # And the drift check's sample of the stream finds nothing to warn about.
    drift = sample_drift(v2_resource(sandbox.base_url, tmp_path), spec)
    assert not drift.found, drift


def test_the_session_backend_lands_them_as_nulls(
    sandbox: SandboxServer, settings_for: Callable[..., SessionSettings]
) -> None:
    with SessionBackend(settings_for(sandbox.base_url)) as session:
        for entity, (column, field) in NESTED.items():
            table = pa.concat_tables(session.iter_tables(ENTITIES_BY_NAME[entity], NOW))
            assert table.num_rows, entity
            assert table.column("_extra").null_count == table.num_rows, entity
            assert field in {f.name for f in _struct_type(table.schema.field(column).type)}
            values = _values(table, column, field)
            assert values and all(v is None for v in values), entity


def _struct_type(kind: pa.DataType) -> pa.StructType:
    return kind.value_type if pa.types.is_list(kind) else kind
