"""From `st-writeback submit` to the warehouse: the CLI, a sensor tick and a run change
the sandbox once, the freshness sensor lands today's partitions; plus the dispatch guard
and the auto-invoice automation."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pytest

from st_assets.defs.names import asset_key
from st_resources.warehouse import WarehouseResource
from st_resources.writeback.cli import main
from st_resources.writeback.queue import WriteQueue
from st_resources.writeback.sender import TransientWriteError, process
from st_sandbox.server import SandboxServer
from tests.helpers import read_partition, refresh_config, this_month, today_utc
from tests.writeback.conftest import (
    Harness,
    api_calls,
    create_jobs,
    dump,
    future_slot,
    writes_sent,
)


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().out


def test_cli_submit_then_a_sensor_tick_and_a_run_change_the_sandbox_once(
    server: SandboxServer,
    queue_url: str,
    harness_factory: Any,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    [job] = create_jobs(server, 1)
    tech = next(t["id"] for t in dump(server, "technicians") if t["active"])
    start, end = future_slot(40, 9)
    before = writes_sent(server)
    code, out = _cli(
        capsys,
        *("--db-url", queue_url, "submit", "--requested-by", "alice", "--no-check", "dispatch"),
        *("--job", str(job["id"]), "--technician", str(tech), "--start", start, "--end", end),
        *("--arrival-start", start, "--arrival-end", end, "--status", "Dispatched"),
    )
    assert code == 0
    request_id = json.loads(out)["id"]

    harness: Harness = harness_factory(server, queue_url, user="dispatcher")
    calls = api_calls(server)
    [run_request] = harness.tick().run_requests or []
    assert api_calls(server) == calls  # the sensor reads the queue only
    assert run_request.run_key == request_id
    runs = [harness.execute(run_request)]
    assert [r.success for r in runs] == [True]
    assert runs[0].dagster_run.tags["writeback/request_id"] == request_id
    assert harness.tick_and_run() == []
    assert writes_sent(server) == before + 1

    code, out = _cli(capsys, "--db-url", queue_url, "status", request_id)
    status = json.loads(out)
    assert status["status"] == "succeeded" and len(status["audit"]) == 1
    appointment_id = status["result"]["appointmentId"]
    [appointment] = [a for a in dump(server, "appointments") if a["id"] == appointment_id]
    assert appointment["status"] == "Dispatched"
    assert [a["technicianId"] for a in appointment["assignments"]] == [tech]
    _, out = _cli(capsys, "--db-url", queue_url, "list", "--status", "succeeded")
    assert request_id in out

    # Freshness: today's partitions of the entities the write changed.
    [fresh] = harness.tick("writeback_freshness").run_requests or []
    assert fresh.partition_key == this_month()
    assert fresh.run_config == refresh_config(today_utc())
    assert fresh.asset_selection == [asset_key("appointments"), asset_key("jobs")]
    assert harness.execute(fresh).success
    day = read_partition(
        WarehouseResource(warehouse_dir=str(tmp_path / "warehouse")),
        "appointments",
        today_utc(),
    )
    assert day is not None
    landed = day.to_pylist()
    assert any(a["id"] == appointment_id and a["status"] == "Dispatched" for a in landed)
    assert harness.tick("writeback_freshness").run_requests == []

    # The audit log, exported for DuckDB.
    export = tmp_path / "audit.parquet"
    assert _cli(capsys, "--db-url", queue_url, "audit", "--export", str(export))[0] == 0
    rows = duckdb.sql(f"select request_id, outcome from '{export}'").fetchall()
    assert rows == [(request_id, "succeeded")]


def test_cli_refuses_a_bad_request_with_a_clear_message(
    sqlite_queue_url: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    items = tmp_path / "items.json"
    items.write_text(json.dumps([{"description": "Filter", "quantity": "0", "unit_price": "5"}]))
    code = main(
        [
            "--db-url",
            sqlite_queue_url,
            "submit",
            "--no-check",
            "invoice",
            "--job",
            "5",
            "--items",
            str(items),
            "--discount",
            "10%",
            "--payment",
            "card:tok_visa",
        ]
    )
    assert code == 2
    assert "items.0.quantity: Input should be greater than 0" in capsys.readouterr().err
    assert WriteQueue(sqlite_queue_url).recent() == []


@pytest.mark.parametrize("backend", ["session", "v2"])
def test_dispatch_guard_picks_any_free_technician_and_refuses_a_visible_overlap(
    server: SandboxServer, sqlite_queue_url: str, harness_factory: Any, backend: str
) -> None:
    jobs = create_jobs(server, 4)
    queue = WriteQueue(sqlite_queue_url)
    start, end = future_slot(50, 8)
    any_tech = {"technician_ids": ["any"], "start": start, "end": end}
    if backend == "session":  # the official v2 API has no status operation
        any_tech["status"] = "Dispatched"
    first = queue.submit("dispatch", {"job_id": jobs[0]["id"], **any_tech}, requested_by="a")
    second = queue.submit("dispatch", {"job_id": jobs[1]["id"], **any_tech}, requested_by="a")
    harness: Harness = harness_factory(server, sqlite_queue_url, user="dispatcher", backend=backend)
    assert all(r.success for r in harness.tick_and_run())

    picked = [queue.get(r.request.id).result["technicianIds"] for r in (first, second)]  # type: ignore[index]
    assert picked[0] != picked[1]
    job_type = next(t for t in dump(server, "job_types") if t["id"] == jobs[0]["jobTypeId"])
    techs = {t["id"]: t for t in dump(server, "technicians")}
    for [tech] in picked:
        assert techs[tech]["active"] and techs[tech]["businessUnitId"] == jobs[0]["businessUnitId"]
        assert set(job_type["skills"]) <= {s["name"] for s in techs[tech]["skills"]}

    # The guard refuses an overlap it can see, without calling the API.
    before = writes_sent(server)
    clash = queue.submit(
        "dispatch",
        {"job_id": jobs[2]["id"], "technician_ids": picked[0], "start": start, "end": end},
        requested_by="b",
    )
    # An overlap only the server sees (a seeded appointment): its 409 decides.
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    seeded = next(
        a
        for a in dump(server, "appointments")
        if a["status"] in ("Scheduled", "Dispatched") and a["assignments"] and a["end"] > now
    )
    hidden = queue.submit(
        "dispatch",
        {
            "job_id": jobs[3]["id"],
            "technician_ids": [seeded["assignments"][0]["technicianId"]],
            "start": seeded["start"],
            "end": seeded["end"],
        },
        requested_by="b",
    )
    assert all(r.success for r in harness.tick_and_run())
    guarded, server_side = queue.get(clash.request.id), queue.get(hidden.request.id)
    assert guarded.status == server_side.status == "conflict"
    assert guarded.result is not None and guarded.result["details"]["checkedBy"] == "guard"
    assert server_side.result is not None
    assert server_side.result["details"]["conflictingAppointmentId"] == seeded["id"]
    if backend == "session":
        assert writes_sent(server) == before + 1
    else:  # reschedule, the refused assignment, and the reschedule undone
        assert writes_sent(server) == before + 3
    [refused] = [a for a in dump(server, "appointments") if a["jobId"] == jobs[3]["id"]]
    assert (refused["start"], refused["end"]) == (
        jobs[3]["appointments"][0]["start"],
        jobs[3]["appointments"][0]["end"],
    )
    assert not [a for a in refused["assignments"] if a["active"]]


def test_auto_invoice_bills_completed_jobs_from_their_sold_estimate(
    server: SandboxServer, sqlite_queue_url: str, harness_factory: Any
) -> None:
    jobs = {j["id"]: j for j in dump(server, "jobs")}
    estimates = {e["id"]: e for e in dump(server, "estimates")}
    expected = {
        j["id"]
        for j in jobs.values()
        if j["jobStatus"] == "Completed"
        and j["invoiceId"] is None
        and any(estimates[e]["status"]["name"] == "Sold" for e in j["estimateIds"])
    }
    assert expected, "the seeded tenant has uninvoiced jobs with a sold estimate"
    harness: Harness = harness_factory(server, sqlite_queue_url, user="accountant")
    run = (
        harness.defs()
        .resolve_job_def("auto_invoice")
        .execute_in_process(
            run_config={"ops": {"submit_auto_invoices": {"config": {"days_back": 1200}}}},
            instance=harness.instance,
        )
    )
    assert run.output_for_node("submit_auto_invoices") == len(expected)
    queue = harness.queue
    requests = queue.recent(kind="invoice")
    assert {r.payload["job_id"] for r in requests} == expected
    assert {r.requested_by for r in requests} == {"automation:auto_invoice"}

    assert all(r.success for r in harness.tick_and_run())
    locations = {loc["id"]: loc for loc in dump(server, "locations")}
    mtypes = {m["id"]: m for m in dump(server, "membership_types")}
    members = {
        m["customerId"]: mtypes[m["membershipTypeId"]]
        for m in dump(server, "memberships")
        if m["status"] == "Active" and m["active"]
    }
    invoices = {i["job"]["id"]: i for i in dump(server, "invoices") if i["active"]}
    for job_id in expected:
        job, request = jobs[job_id], next(r for r in requests if r.payload["job_id"] == job_id)
        invoice = invoices[job_id]
        sold = next(
            estimates[e] for e in job["estimateIds"] if estimates[e]["status"]["name"] == "Sold"
        )
        assert queue.get(request.id).status == "succeeded"
        assert invoice["taxZoneId"] == locations[job["locationId"]]["taxZoneId"]
        assert Decimal(invoice["subTotal"]) == sum(Decimal(i["total"]) for i in sold["items"])
        membership = members.get(job["customerId"])
        discounts = [Decimal(d["percent"]) for d in request.payload.get("discounts", [])]
        if membership is not None and membership["discount"] > 0:
            assert discounts == [Decimal(str(membership["discount"]))]
        else:
            assert discounts == []

    again = (
        harness.defs()
        .resolve_job_def("auto_invoice")
        .execute_in_process(
            run_config={"ops": {"submit_auto_invoices": {"config": {"days_back": 1200}}}},
            instance=harness.instance,
        )
    )
    assert again.output_for_node("submit_auto_invoices") == 0


def test_exhausted_transient_errors_end_failed_and_the_request_can_be_submitted_again(
    server: SandboxServer, sqlite_queue_url: str, harness_factory: Any
) -> None:
    job = next(
        j for j in dump(server, "jobs") if j["jobStatus"] == "Completed" and j["invoiceId"] is None
    )
    route = f"/jobs/{job['id']}/invoices"
    faults = f"{server.base_url}/_sandbox/faults"
    httpx.post(faults, json={"targeted": [{"route": route, "nth": 1, "status": 503, "times": 9}]})
    harness: Harness = harness_factory(
        server, sqlite_queue_url, user="accountant", api_options={"max_attempts": 1}
    )
    backend = harness.resources()["servicetitan"].get_backend()
    queue = harness.queue
    payload = {
        "job_id": job["id"],
        "items": [{"description": "Fan", "quantity": 1, "unit_price": 9}],
    }
    first = queue.submit("invoice", payload, requested_by="alice").request
    # What the op's attempts do (the Dagster retry wiring is in test_scenarios' audit test).
    with pytest.raises(TransientWriteError):
        process(queue, backend, first.id, final_attempt=False)
    failed = process(queue, backend, first.id, final_attempt=True).request
    assert failed.status == "failed" and failed.attempts == 2
    assert failed.result is not None and failed.result["status"] == 503

    httpx.delete(faults)
    again = queue.submit("invoice", payload, requested_by="alice")
    assert not again.duplicate and again.request.id != first.id
    assert [r.success for r in harness.tick_and_run()] == [True]
    assert queue.get(again.request.id).status == "succeeded"
    assert len([i for i in dump(server, "invoices") if i["job"]["id"] == job["id"]]) == 1
