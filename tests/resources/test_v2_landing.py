"""The v2 backend through the landing engine, against the sandbox's v2 surface: windows
read the exports at once and are split while they are read, records change during the
read, and the warehouse then holds the sandbox's records (appointments with their
assignments, nested from lookups or from dispatch's export) each version once. Also: the
page size configured is the page size sent, on both backends."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pytest
from pydantic import SecretStr

from st_contract.entities import ENTITIES_BY_NAME
from st_resources.days import day_groups, day_range, windows_for
from st_resources.landing import land_days
from st_resources.session import SessionBackend
from st_resources.settings import SessionSettings, V2Settings
from st_resources.v2 import V2Backend
from st_resources.warehouse import WarehouseResource
from st_sandbox.server import SandboxServer
from st_sandbox.v2.oauth import DEMO_APPS, SANDBOX_TENANT_ID
from tests.helpers import read_partition, sandbox_dump

APP = DEMO_APPS[0]


def _v2(base_url: str, **overrides: Any) -> V2Backend:
    settings = V2Settings(
        client_id=APP.client_id,
        client_secret=SecretStr(APP.client_secret),
        app_key=SecretStr(APP.app_key),
        tenant_id=SANDBOX_TENANT_ID,
        auth_url=base_url,
        api_url=base_url,
        rate_limit=1000,
        **overrides,
    )
    return V2Backend(settings)


def _landed(warehouse: WarehouseResource, entity: str, days: list[Any]) -> list[dict[str, Any]]:
    tables = [read_partition(warehouse, entity, day) for day in days]
    present = [t for t in tables if t is not None]
    return pa.concat_tables(present).to_pylist() if present else []


def _stamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _assignments(record: dict[str, Any]) -> list[tuple[int, int, bool, str]]:
    return [(a["id"], a["technicianId"], a["active"], a["status"]) for a in record["assignments"]]


class _Activity:
    """The business moving on in the sandbox, in a thread, while the landing reads."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=60) as http:
            while not self.stop.is_set():
                http.post("/_sandbox/activity", json={"steps": 5}).raise_for_status()
                self.stop.wait(0.02)

    def __enter__(self) -> _Activity:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


@pytest.mark.parametrize(
    ("entity", "page_size", "export_page", "nesting"),
    [
        # A small page size: windows are split while they are read; 50 appointments an
        # export page cost one lookup of their assignments each.
        ("appointments", 10, 50, "lookups"),
        # The API's maximum: a page of 200 appointments costs more lookups than scanning
        # dispatch's assignment export once.
        ("appointments", 5000, 200, "export"),
        # Pages of 10 jobs: the recent window holds most pages, so the others take its
        # later days over while it reads.
        ("jobs", 10, 10, None),
    ],
)
def test_v2_windows_land_the_sandboxs_records_each_version_once(
    sandbox_factory: Callable[..., SandboxServer],
    warehouse_dir: Path,
    entity: str,
    page_size: int,
    export_page: int,
    nesting: str | None,
) -> None:
    server = sandbox_factory(customers=150, latency_ms=10)
    httpx.post(
        f"{server.base_url}/_sandbox/v2/export-page-size", json={"exportPageSize": export_page}
    ).raise_for_status()
    warehouse = WarehouseResource(warehouse_dir=str(warehouse_dir))
    now = datetime.now(UTC)
    days = day_range((now - timedelta(days=400)).date().isoformat(), now.date().isoformat())
    before = {r["id"]: r for r in sandbox_dump(server.base_url, entity)}
    sent: list[httpx.Request] = []
    with _v2(server.base_url, page_size=page_size) as backend:
        backend.transport.http.event_hooks["request"].append(sent.append)
        started = datetime.now(UTC)
        with _Activity(server.base_url):
            landed = land_days(backend, warehouse, ENTITIES_BY_NAME[entity], days, started)
    after = {r["id"]: r for r in sandbox_dump(server.base_url, entity)}
    cutoff = days[0].isoformat()
    rows = _landed(warehouse, entity, days)
    versions = Counter((r["id"], _stamp(r["modifiedOn"])) for r in rows)
    assert max(versions.values()) == 1  # no version of a record landed twice
    moved = {i for i, r in after.items() if r["modifiedOn"] >= _stamp(started)}
    assert moved, "the activity changed nothing during the read"
    # Untouched during the read: landed once, exactly as the sandbox holds it.
    untouched = {i for i, r in after.items() if r["modifiedOn"] >= cutoff and i not in moved}
    by_id = Counter(r["id"] for r in rows)
    assert {i for i in untouched if by_id[i] != 1} == set()
    # Changed during the read: the version before it, or one it made (at most the last).
    for row in rows:
        stamp, final = _stamp(row["modifiedOn"]), after[row["id"]]["modifiedOn"]
        old = before.get(row["id"], {}).get("modifiedOn")
        assert stamp == old or _stamp(started) <= stamp <= final, row["id"]
    if entity == "appointments":
        finals = [r for r in rows if _stamp(r["modifiedOn"]) == after[r["id"]]["modifiedOn"]]
        assert finals and all(_assignments(r) == _assignments(after[r["id"]]) for r in finals)
        scans = [r for r in sent if r.url.path.endswith("/export/appointment-assignments")]
        lookups = [r for r in sent if "appointmentIds" in r.url.params]
        # (The export case looks up only appointments changed since its scan began.)
        assert bool(scans) == (nesting == "export") and (lookups or nesting == "export")
        assert all(len(r.url.params["appointmentIds"].split(",")) <= 50 for r in lookups)
    assert landed.records == len(rows)
    if page_size == 10:
        assert landed.windows > len(day_groups(days, windows_for(len(days))))


def test_the_page_size_configured_is_the_page_size_sent(
    sandbox: SandboxServer, settings_for: Callable[..., SessionSettings]
) -> None:
    jobs = ENTITIES_BY_NAME["jobs"]
    now = datetime.now(UTC)
    sent: list[httpx.Request] = []
    with SessionBackend(settings_for(sandbox.base_url)) as session:
        assert session.page_size == 5000  # the default: the API's maximum
        session.transport.http.event_hooks["request"].append(sent.append)
        list(session.iter_window_tables(jobs, now - timedelta(days=30), now, now))
        list(session.iter_records(jobs))
    pages = [r for r in sent if r.url.path == "/jobs"]
    assert pages and {r.url.params["pageSize"] for r in pages} == {"5000"}
    sent.clear()
    with _v2(sandbox.base_url, page_size=777) as v2:
        v2.transport.http.event_hooks["request"].append(sent.append)
        list(v2.iter_tables(ENTITIES_BY_NAME["job_types"], now))  # a list, no export
        list(
            v2.iter_window_tables(
                ENTITIES_BY_NAME["appointments"], now - timedelta(days=30), now, now
            )
        )
    lists = [r for r in sent if "page" in r.url.params]
    assert lists and {r.url.params["pageSize"] for r in lists} == {"777"}
