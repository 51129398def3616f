"""The report assets: a configured report lands the tenant's own rows (computed here from
the sandbox's dump) on both backends, with its raw view; bad configuration fails naming
the file and the report; the location loads the reports file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import pytest

from st_assets.defs.reports.assets import (
    REPORTS_JOB,
    build_report_asset,
    report_definitions,
    report_key,
)
from st_resources.report_specs import ReportSpec, parse_report_specs
from st_sandbox.server import SandboxServer
from tests.assets.conftest import resources_for
from tests.helpers import sandbox_dump


def spec(**fields: Any) -> ReportSpec:
    values = {
        "name": "revenue",
        "category": "accounting",
        "report_id": 201,
        "parameters": {"From": "today-400d", "To": "today"},
        **fields,
    }
    return parse_report_specs([values], "/etc/st/reports.yaml")[0]


@pytest.fixture(scope="module")
def tokens(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One token cache for the module: a login per backend, not one per test (a TOTP code
    is accepted once, so a second login within its 30 s would wait for the next)."""
    return tmp_path_factory.mktemp("tokens")


def materialize(
    report: ReportSpec, sandbox: SandboxServer, warehouse_dir: Path, backend: str, tokens: Path
) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [build_report_asset(report)],
        resources=resources_for(sandbox.base_url, warehouse_dir, tokens, backend=backend),
        raise_on_error=False,
    )


def test_a_report_lands_the_tenant_s_rows(
    sandbox: SandboxServer, warehouse_dir: Path, backend: str, tokens: Path
) -> None:
    result = materialize(spec(), sandbox, warehouse_dir, backend, tokens)
    assert result.success
    today = datetime.now(UTC).date()
    start, end = (today - timedelta(days=400)).isoformat(), today.isoformat()
    expected: dict[int, tuple[int, Decimal]] = {}
    for inv in sandbox_dump(sandbox.base_url, "invoices"):
        if inv["active"] and start <= inv["invoiceDate"][:10] <= end:
            count, total = expected.get(inv["businessUnit"]["id"], (0, Decimal(0)))
            expected[inv["businessUnit"]["id"]] = (count + 1, total + Decimal(inv["total"]))
    with duckdb.connect(str(warehouse_dir / "warehouse.duckdb"), read_only=True) as con:
        rows = con.execute(
            "select BusinessUnitId, Invoices, Revenue, _loaded_at from raw.report_revenue"
        ).fetchall()
        types = dict(con.execute("describe raw.report_revenue").fetchall()[i][:2] for i in range(6))
    assert {int(r[0]): (int(r[1]), Decimal(str(r[2]))) for r in rows} == {
        k: (n, t.quantize(Decimal("0.01"))) for k, n_t in expected.items() for n, t in [n_t]
    }
    assert types["BusinessUnitId"] == "DOUBLE" and types["BusinessUnitName"] == "VARCHAR"
    assert types["_loaded_at"] == "TIMESTAMP WITH TIME ZONE"
    metadata = result.asset_materializations_for_node(
        result.dagster_run.job_name and "servicetitan__reports__revenue"
    )[0].metadata
    assert metadata["rows"].value == len(expected)
    # A second run replaces the report.
    again = materialize(
        spec(parameters={"From": "2000-01-01", "To": "2000-01-02"}),
        sandbox,
        warehouse_dir,
        backend,
        tokens,
    )
    assert again.success
    with duckdb.connect(str(warehouse_dir / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("select count(*) from raw.report_revenue").fetchone() == (0,)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"category": "nope"}, "no such report"),
        ({"report_id": 999}, "no such report"),
        ({"parameters": {"Form": "today", "To": "today"}}, "no parameter 'Form'"),
        ({"parameters": {"From": "today", "To": "today", "BusinessUnitId": "x"}}, "takes a Number"),
        ({"parameters": {"From": 3, "To": "today"}}, "From takes a Date"),
    ],
)
def test_bad_configuration_fails_naming_the_file_and_the_report(
    sandbox: SandboxServer,
    warehouse_dir: Path,
    tokens: Path,
    fields: dict[str, Any],
    message: str,
) -> None:
    result = materialize(spec(**fields), sandbox, warehouse_dir, "session", tokens)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    text = str(failure.step_failure_data.error)
    assert "/etc/st/reports.yaml: report 'revenue'" in text
    assert message in text


def test_the_location_loads_the_reports_file(monkeypatch: pytest.MonkeyPatch) -> None:
    from st_assets.definitions import load_defs

    example = Path(__file__).resolve().parents[2] / "reports.example.yaml"
    monkeypatch.setenv("ST_REPORTS_FILE", str(example))
    defs = load_defs("reports", "resources.py")
    graph = defs.get_repository_def().asset_graph
    keys = {k for k in graph.get_all_asset_keys() if k.path[:2] == ["servicetitan", "reports"]}
    assert keys == {report_key("revenue_by_business_unit"), report_key("technician_productivity")}
    assert defs.resolve_job_def(REPORTS_JOB) is not None
    assert defs.resolve_schedule_def("reports_daily").cron_schedule == "0 4 * * *"
    assert report_definitions([]).assets is None or not list(report_definitions([]).assets)
    monkeypatch.setenv("ST_REPORTS_FILE", str(example.parent / "missing.yaml"))
    with pytest.raises(Exception) as caught:
        load_defs("reports", "resources.py")
    chain: list[BaseException] = []
    error: BaseException | None = caught.value
    while error is not None:
        chain.append(error)
        error = error.__cause__ or error.__context__
    assert any("missing.yaml: cannot read the reports file" in str(e) for e in chain)
