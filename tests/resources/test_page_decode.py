"""Pages decoded from bytes to Arrow (``st_resources.page_decode``) against the Python path,
on every entity of a real sandbox, through the session backend, and when the fast path must give up."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
import pyarrow as pa
import pytest

from st_contract.entities import ENTITIES, ENTITIES_BY_NAME
from st_contract.models import Event
from st_resources.arrow import records_to_table
from st_resources.page_decode import (
    FastDecodeError,
    decode_page,
    fast_page_table,
    python_page_table,
)
from st_resources.session import SessionBackend
from st_resources.settings import SessionSettings
from st_resources.transport import Call
from st_sandbox.server import SandboxServer

LOADED_AT = datetime(2026, 5, 1, 12, 30, tzinfo=UTC)
WIDE = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))


def _pages(client: SessionBackend, path: str, page_size: int) -> list[bytes]:
    bodies: list[bytes] = []
    query: dict[str, Any] = {"pageSize": page_size}
    while True:
        body = client.transport.request(Call("GET", path, params=query)).content
        bodies.append(body)
        envelope = orjson.loads(body)
        if not envelope["hasMore"]:
            return bodies
        query["cursor"] = envelope["nextCursor"]


def _by_id(table: pa.Table) -> pa.Table:
    return table.sort_by("id")


def test_every_entity_decodes_the_same_on_both_paths(
    sandbox: SandboxServer, settings_for: Callable[..., SessionSettings]
) -> None:
    with SessionBackend(settings_for(sandbox.base_url)) as client:
        for spec in ENTITIES:
            for body in _pages(client, spec.path, page_size=500):
                expected = records_to_table(spec.model, json.loads(body)["data"], LOADED_AT)
                # fast_page_table raises rather than falling back: this is the C++ path.
                fast = fast_page_table(spec.model, body, LOADED_AT)
                assert fast.table.schema.equals(expected.schema), spec.name
                assert fast.table.equals(expected), spec.name
                assert python_page_table(spec.model, body, LOADED_AT).table.equals(expected)


def test_backend_tables_match_the_records_and_count_the_same_metrics(
    sandbox: SandboxServer, settings_for: Callable[..., SessionSettings]
) -> None:
    # One backend (one TOTP login) throughout; each read is measured on its own.
    with SessionBackend(settings_for(sandbox.base_url, page_size=40)) as client:
        client.login()
        for name in ("invoices", "appointments", "business_units"):
            spec = ENTITIES_BY_NAME[name]
            before = client.metrics.snapshot()
            records = list(client.iter_records(spec))
            by_pages = client.metrics.since(before)
            expected = records_to_table(spec.model, records, LOADED_AT)

            before = client.metrics.snapshot()
            tables = list(client.iter_tables(spec, LOADED_AT))
            by_tables = client.metrics.since(before)
            assert pa.concat_tables(tables).equals(expected), name
            for metric in ("pages", "records", "bytes", "calls"):
                assert by_tables[metric] == by_pages[metric], (name, metric)
            assert by_tables["records"] == len(records)

            before = client.metrics.snapshot()
            windowed = list(client.iter_window_tables(spec, *WIDE, LOADED_AT))
            by_windows = client.metrics.since(before)
            assert by_windows["records"] == len(records)
            assert by_windows["pages"] == by_windows["calls"] >= len(windowed)
            assert _by_id(pa.concat_tables(windowed)).equals(_by_id(expected)), name


def test_a_page_the_fast_path_cannot_decode_lands_through_python(
    sandbox_factory: Callable[..., SandboxServer],
    settings_for: Callable[..., SessionSettings],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A server sending a float as a JSON string: the Arrow reader refuses the type change,
    # the Python path converts it, so the page must come through Python, whole.
    server = sandbox_factory(customers=40)
    spec = ENTITIES_BY_NAME["locations"]
    location_id = server.tenant.store.ids("locations")[0]
    address = dict(server.tenant.store.get("locations", location_id)["address"])  # type: ignore[index]
    address["latitude"] = "40.712776"
    server.tenant.store.update("locations", location_id, {"address": address})
    with SessionBackend(settings_for(server.base_url, page_size=25)) as client:
        bodies = _pages(client, spec.path, page_size=25)
        odd = [b for b in bodies if b'"40.712776"' in b]
        assert len(odd) == 1
        with pytest.raises(FastDecodeError):
            fast_page_table(spec.model, odd[0], LOADED_AT)
        with caplog.at_level(logging.DEBUG, logger="st_resources.page_decode"):
            table = pa.concat_tables(client.iter_tables(spec, LOADED_AT))
        records = list(client.iter_records(spec))
    assert table.num_rows == len(records) == len(server.tenant.store.ids("locations"))
    row = table.filter(pa.compute.equal(table["id"], location_id)).to_pylist()[0]
    assert row["address"]["latitude"] == pytest.approx(40.712776)
    assert sum("in Python" in r.getMessage() for r in caplog.records) <= 1
    assert decode_page(spec.model, odd[0], LOADED_AT).table.equals(
        records_to_table(spec.model, json.loads(odd[0])["data"], LOADED_AT)
    )


def test_bad_data_still_raises_the_clear_error(
    sandbox_factory: Callable[..., SandboxServer], settings_for: Callable[..., SessionSettings]
) -> None:
    server = sandbox_factory(customers=20)
    spec = ENTITIES_BY_NAME["customers"]
    customer_id = server.tenant.store.ids("customers")[0]
    server.tenant.store.update("customers", customer_id, {"balance": "twelve dollars"})
    with (
        SessionBackend(settings_for(server.base_url)) as client,
        pytest.raises(ValueError, match="column 'balance' has a value that does not fit"),
    ):
        list(client.iter_tables(spec, LOADED_AT))


def test_decimals_given_as_json_numbers_are_exact() -> None:
    spec = ENTITIES_BY_NAME["pricebook_services"]
    record = {"id": 1, "code": "S1", "price": 12345678901234.57, "memberPrice": "0.10"}
    record |= {"active": True, "createdOn": "2026-01-02T03:04:05Z"}
    record |= {"modifiedOn": "2026-01-02T03:04:05.5+02:00", "hours": 1.0625}
    body = json.dumps({"data": [record], "hasMore": False, "nextCursor": None}).encode()
    for page in (
        fast_page_table(spec.model, body, LOADED_AT),
        decode_page(spec.model, body, LOADED_AT),
    ):
        row = page.table.to_pylist()[0]
        assert str(row["price"]) == "12345678901234.57"
        assert str(row["memberPrice"]) == "0.10"
        assert str(row["hours"]) == "1.0625"
        assert row["modifiedOn"] == datetime(2026, 1, 2, 1, 4, 5, 500000, tzinfo=UTC)
        assert page.has_more is False and page.next_cursor is None


@pytest.mark.parametrize(
    "body",
    [
        b'{"data": [null], "hasMore": false}',  # a null record
        b'{"hasMore": false}',  # no data
        b'{"data": []}{"data": []}',  # not one JSON object
        b'{"data": [{"id": "7"}], "hasMore": false}',  # a string id
        b'{"data": [{"id": 7, "createdOn": "2026-01-02T03:04:05"}]}',  # no zone offset
    ],
)
def test_shapes_the_fast_path_does_not_know_go_to_python(body: bytes) -> None:
    spec = ENTITIES_BY_NAME["tax_zones"]
    with pytest.raises(FastDecodeError):
        fast_page_table(spec.model, body, LOADED_AT)
    with pytest.raises((ValueError, TypeError, KeyError, AttributeError)):
        decode_page(spec.model, body, LOADED_AT)


def test_a_dict_field_with_a_value_takes_the_python_path() -> None:
    # ``dict`` fields land as sorted JSON text, which only the Python path writes; a page
    # where they are all null stays on the fast path.
    empty = {"id": 2, "type": "job.created", "entity": "jobs", "entityId": 5}
    empty |= {"occurredOn": "2026-01-02T03:04:05Z", "data": None}
    fast = fast_page_table(
        Event, json.dumps({"data": [empty], "hasMore": False}).encode(), LOADED_AT
    )
    assert fast.table.equals(records_to_table(Event, [empty], LOADED_AT))
    record = {"id": 1, "type": "job.created", "entity": "jobs", "entityId": 5}
    record |= {"occurredOn": "2026-01-02T03:04:05Z", "data": {"b": 1, "a": [2]}}
    body = json.dumps({"data": [record], "hasMore": True, "nextCursor": "1"}).encode()
    with pytest.raises(FastDecodeError):
        fast_page_table(Event, body, LOADED_AT)
    page = decode_page(Event, body, LOADED_AT)
    assert page.table.equals(records_to_table(Event, [record], LOADED_AT))
    assert page.table["data"].to_pylist() == ['{"a": [2], "b": 1}']
    assert page.has_more and page.next_cursor == "1"


def test_fields_the_model_does_not_know_land_in_extra_never_dropped() -> None:
    # A field ServiceTitan adds after our spec (top level, or inside a known struct or a
    # list of them) leaves the fast path and lands, as JSON, in ``_extra``.
    spec = ENTITIES_BY_NAME["tax_zones"]
    known = {"id": 1, "name": "Zone", "active": True, "modifiedOn": "2026-01-02T03:04:05Z"}
    drifted = {**known, "id": 2, "newScore": 7, "rates": [{"taxName": "x", "newRate": 1}]}
    body = json.dumps({"data": [known, drifted], "hasMore": False}).encode()
    with pytest.raises(FastDecodeError):
        fast_page_table(spec.model, body, LOADED_AT)
    table = decode_page(spec.model, body, LOADED_AT).table
    extra = table["_extra"].to_pylist()
    assert extra[0] is None
    assert json.loads(extra[1]) == {"newScore": 7, "rates[].newRate": 1}
    quiet = json.dumps({"data": [known], "hasMore": False}).encode()
    assert fast_page_table(spec.model, quiet, LOADED_AT).table["_extra"].null_count == 1
