"""The custom reports named in ``ST_REPORTS_FILE`` (``st_resources/report_specs.py``), one
asset each: ``servicetitan/reports/<name>`` in the group ``servicetitan_reporting``, landed
whole (each run replaces it) at ``landing/report_<name>/data.parquet`` with the report's
fields as typed columns and ``_loaded_at``, and viewed as ``raw.report_<name>``.

The file is read when the code location loads (never at import); without the variable the
location has no report assets. A run resolves the relative dates (``today-30d``) against
the day it runs, checks the parameters against the report's description (a clear failure
naming the file and the report), and runs the report within ServiceTitan's 5 runs of a
report a minute (``st_resources/reports.py``): a 429 is waited out until the run's
``deadline_seconds``. ``servicetitan_reports`` runs them all daily (``reports_daily``).
"""

import os
import time
from datetime import UTC, datetime

import dagster as dg
from pydantic import Field

from st_assets.defs.names import API_POOL, GROUP
from st_resources.errors import NotFoundError, RateLimitExceeded
from st_resources.report_specs import ReportSpec, load_report_specs
from st_resources.resource import ServiceTitanResource
from st_resources.warehouse import WarehouseResource

REPORTS_GROUP = "servicetitan_reporting"
REPORTS_JOB = "servicetitan_reports"
REPORTS_FILE_ENV = "ST_REPORTS_FILE"


class ReportRunConfig(dg.Config):
    """How long a report's run may wait for ServiceTitan's limit of runs a minute."""

    deadline_seconds: float = Field(
        default=1800.0, description="Seconds the run may take, waits for the limit included"
    )


def report_key(name: str) -> dg.AssetKey:
    """``servicetitan/reports/<name>``."""
    return dg.AssetKey([GROUP, "reports", name])


def build_report_asset(spec: ReportSpec) -> dg.AssetsDefinition:
    """The asset landing one configured report."""

    @dg.asset(
        key=report_key(spec.name),
        group_name=REPORTS_GROUP,
        kinds={"servicetitan", "parquet"},
        pool=API_POOL,
        description=(
            f"Report {spec.report_id} of the category {spec.category!r} "
            f"({spec.summary()}), from {spec.source}. Landed whole at "
            f"landing/{spec.view}/data.parquet; view raw.{spec.view}."
        ),
        metadata={
            "category": spec.category,
            "report_id": spec.report_id,
            "parameters": dg.MetadataValue.json(dict(spec.parameters)),
            "config_file": spec.source,
        },
    )
    def report(
        context: dg.AssetExecutionContext,
        config: ReportRunConfig,
        servicetitan: ServiceTitanResource,
        warehouse: WarehouseResource,
    ) -> dg.MaterializeResult:
        return land_report(context, spec, config, servicetitan, warehouse)

    return report


def land_report(
    context: dg.AssetExecutionContext,
    spec: ReportSpec,
    config: ReportRunConfig,
    servicetitan: ServiceTitanResource,
    warehouse: WarehouseResource,
) -> dg.MaterializeResult:
    """Run ``spec``'s report and land it whole; a ``dg.Failure`` naming the file and the
    report when the tenant has no such report or the parameters do not fit it."""
    deadline = time.monotonic() + config.deadline_seconds
    backend = servicetitan.get_backend()
    if not backend.capabilities.reports or backend.reports is None:
        raise dg.Failure(f"{spec.where()}: the {backend.name} backend cannot run reports")
    now = datetime.now(UTC)
    parameters = spec.resolved(now.date())
    try:
        description = backend.reports.describe(spec.category, spec.report_id)
    except NotFoundError as exc:
        raise dg.Failure(
            f"{spec.where()}: the tenant has no such report ({exc.message}); check the "
            "category and report_id against the tenant's report categories"
        ) from None
    problems = description.parameter_problems(parameters)
    if problems:
        raise dg.Failure(f"{spec.where()}, {description.name!r}: " + "; ".join(problems))
    try:
        run = backend.reports.run(description, parameters, now, deadline=deadline)
    except RateLimitExceeded as exc:
        raise dg.Failure(f"{spec.where()}: {exc}") from exc
    path = warehouse.write_whole(spec.view, run.table)
    warehouse.ensure_landed_views(spec.view)
    context.log.info(
        "%s: %s rows in %s page(s), %s call(s), %s throttled, %.1f s waited for the limit",
        spec.name,
        run.table.num_rows,
        run.pages,
        run.calls,
        run.throttled,
        run.waited_seconds,
    )
    return dg.MaterializeResult(
        metadata={
            "rows": run.table.num_rows,
            "report": description.name,
            "parameters": dg.MetadataValue.json(parameters),
            "pages": run.pages,
            "api_calls": run.calls,
            "throttled_429": run.throttled,
            "waited_seconds": round(run.waited_seconds, 3),
            "columns": ", ".join(run.table.column_names),
            "landing": dg.MetadataValue.path(str(path)),
            "view": f"raw.{spec.view}",
        }
    )


def report_definitions(specs: list[ReportSpec]) -> dg.Definitions:
    """The assets of ``specs``, their job and its daily schedule (nothing for no specs)."""
    if not specs:
        return dg.Definitions()
    assets = [build_report_asset(spec) for spec in specs]
    job = dg.define_asset_job(
        REPORTS_JOB,
        selection=dg.AssetSelection.assets(*assets),
        description="Every configured report (ST_REPORTS_FILE), each landed whole.",
    )
    daily = dg.ScheduleDefinition(
        name="reports_daily",
        job=job,
        cron_schedule="0 4 * * *",
        execution_timezone="UTC",
        description="The configured reports, daily after the nightly reference sets.",
    )
    return dg.Definitions(assets=assets, jobs=[job], schedules=[daily])


@dg.definitions
def servicetitan_reports() -> dg.Definitions:
    """The reports ``ST_REPORTS_FILE`` names, read when the location loads."""
    path = os.environ.get(REPORTS_FILE_ENV, "").strip()
    return report_definitions(load_report_specs(path) if path else [])
