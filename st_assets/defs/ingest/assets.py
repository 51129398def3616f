"""The ServiceTitan entities as assets, one per entity, computed by two multi-assets:
the entities that change land in monthly partitions of ``modifiedOn`` (``partitions.py``
says why months); the reference sets land whole. Each multi-asset reads its selected
entities at once (they share the client's rate limit). A range of partitions (a backfill)
is one run: ranged, windowed reads written a month at a time.

A run lands every day of its partitions (the partition is replaced), or with ``Refresh``
only the days asked for, keeping the partition's other days: the schedule, the change
feed and the write-back refresh today's and yesterday's days that way.

An entity's partitions are recorded when it is landed, by one result for the whole range:
Dagster then writes their events in batches. A run that fails keeps what it landed: the
partitions a failed entity wrote whole before failing are recorded one by one (a partition
only partly written is not: its days stay on disk and the next run replaces them).

The six entities the business edits all day carry a ``FreshnessPolicy``: Dagster's
freshness daemon marks one failing when it has not landed for an hour (the schedule
refreshes today's days every 15 minutes).

The first day landed is read when the location loads (``servicetitan_entities``)."""

from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

import dagster as dg

from st_assets.defs.ingest.partitions import (
    Granularity,
    history_partitions,
    partitions_start,
    requested_granularity,
)
from st_assets.defs.ingest.refresh import CHANGING_OP, Plan, Refresh, plan
from st_assets.defs.ingest.selection import selected_streams
from st_assets.defs.names import API_POOL, LANDING_TAG, asset_key, module_group
from st_contract.entities import SPECS_BY_NAME, EntitySpec
from st_resources.errors import ForbiddenError, NotFoundError
from st_resources.landing import (
    DaysLanded,
    Land,
    Landed,
    land_concurrently,
    land_days,
    land_whole,
)
from st_resources.resource import ServiceTitanResource
from st_resources.warehouse import WarehouseResource

PREVIEW_COLUMNS = 6
# The entities the business edits all day: they are expected to land at least hourly.
FRESH_HOURLY = frozenset(
    {"jobs", "appointments", "invoices", "payments", "customers", "memberships"}
)
HOURLY = dg.FreshnessPolicy.time_window(
    fail_window=timedelta(hours=1), warn_window=timedelta(minutes=30)
)


def _doc(entity: EntitySpec) -> str:
    core = entity.core
    if core is not None and core.__doc__:
        return core.__doc__.splitlines()[0]
    return entity.stream.description or entity.name


def _spec(entity: EntitySpec, how: str) -> dg.AssetSpec:
    stream = entity.stream
    official = stream.prefix + stream.template(stream.read_path)
    return dg.AssetSpec(
        asset_key(entity.name),
        group_name=module_group(entity.module),
        kinds={"servicetitan", "parquet"},
        description=f"{_doc(entity)} Landed from `GET {official}` (session API: "
        f"`GET {entity.path}`). {how}",
        metadata={
            "entity": entity.name,
            "module": entity.module,
            "api_path": entity.path,
            "official_path": official,
            "key": stream.key or "none",
        },
        tags={LANDING_TAG: "partitioned" if entity.partitioned else "whole"},
        # Skippable: a stream that fails, or whose module the tenant is not licensed for,
        # has no result, and the others are still recorded.
        skippable=True,
        freshness_policy=HOURLY if entity.name in FRESH_HOURLY else None,
    )


def _preview(rows: list[dict[str, Any]]) -> dg.MetadataValue:
    if not rows:
        return dg.MetadataValue.md("_no rows_")
    cols = list(rows[0])[:PREVIEW_COLUMNS]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(row[c])[:40] for c in cols) + " |" for row in rows]
    return dg.MetadataValue.md("\n".join(lines))


def _summary(spec: EntitySpec, landed: Landed, warehouse: WarehouseResource) -> dict[str, Any]:
    """What landing an entity did (its materialization's metadata)."""
    m = landed.metrics
    return {
        "records": landed.records,
        "days_written": landed.partitions,
        "windows": landed.windows,
        "pages": int(m.get("pages", 0)),
        "api_calls": int(m.get("calls", 0)),
        "retries": int(m.get("retries", 0)),
        "throttled_429": int(m.get("throttled", 0)),
        "bytes": int(m.get("bytes", 0)),
        "api_seconds": round(m.get("seconds", 0.0), 3),
        "preview": _preview(landed.preview),
        "landing": dg.MetadataValue.path(str(warehouse.landing(spec.name))),
    }


def _recorded(summary: dict[str, Any], partitions: int) -> dict[str, Any]:
    """The metadata of an entity's materialization: its summary, or for a range of
    ``partitions`` only the run's records and days, named as the run's. Dagster copies a
    ranged result's metadata to each partition's event: the full summary, preview included,
    would tell each partition the range's totals; the run's log line keeps the rest."""
    if partitions <= 1:
        return summary
    return {
        "run_records": summary["records"],
        "run_days": summary["days_written"],
        "run_partitions": partitions,
    }


def _landed_before_failing(
    spec: EntitySpec,
    records: Mapping[date, int],
    plan: Plan,
    warehouse: WarehouseResource,
    error: str,
) -> Iterator[dg.AssetMaterialization]:
    """A materialization per partition a failed entity landed whole, with its records."""
    key = asset_key(spec.name)
    for partition, days in plan.partitions.items():
        if not all(day in records for day in days):
            continue
        yield dg.AssetMaterialization(
            asset_key=key,
            partition=partition,
            description=f"Landed before the rest of the range failed: {error}"[:500],
            metadata={
                "records": sum(records[day] for day in days),
                "days_written": len(days),
                "landing": dg.MetadataValue.path(str(warehouse.month_path(spec.name, days[0]))),
            },
        )


def _land(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    land: Land,
    plan: Plan | None = None,
) -> Iterator[dg.MaterializeResult | dg.AssetMaterialization]:
    """Land the selected entities at once; each is recorded as soon as it is landed. A
    failed entity does not stop the others; the partitions of ``plan`` it landed whole are
    recorded, and the step fails at the end naming every entity that failed."""
    specs = _in_turn([SPECS_BY_NAME[key.path[-1]] for key in context.selected_asset_keys])
    days_landed: dict[str, dict[date, int]] = {spec.name: {} for spec in specs}
    failed: dict[str, BaseException] = {}
    unlicensed: dict[str, list[str]] = {}
    for item in land_concurrently(specs, land):
        if isinstance(item, DaysLanded):
            days_landed[item.spec.name].update(item.records)
            continue
        spec, outcome = item.spec, item.outcome
        # The views read whatever is landed, also what a failed entity landed before failing.
        warehouse.ensure_views((spec,))
        if isinstance(outcome, ForbiddenError | NotFoundError) and not days_landed[spec.name]:
            unlicensed.setdefault(spec.module, []).append(spec.name)
            continue
        if isinstance(outcome, BaseException):
            context.log.error("%s failed: %s", spec.name, outcome)
            failed[spec.name] = outcome
            if plan is not None:
                records = days_landed[spec.name]
                yield from _landed_before_failing(spec, records, plan, warehouse, str(outcome))
            continue
        summary = _summary(spec, outcome, warehouse)
        context.log.info(
            "%s: %s",
            spec.name,
            ", ".join(
                f"{k} {v}" for k, v in summary.items() if not isinstance(v, dg.MetadataValue)
            ),
        )
        partitions = len(plan.partitions) if plan is not None else 1
        yield dg.MaterializeResult(
            asset_key=asset_key(spec.name), metadata=_recorded(summary, partitions)
        )
    for module, names in unlicensed.items():
        context.log.warning(unlicensed_message(module, names))
    if failed:
        first = next(iter(failed.values()))
        raise dg.Failure(
            description=f"{len(failed)} of {len(specs)} streams failed to land: "
            + "; ".join(f"{name}: {error}" for name, error in failed.items())
            + ". The others were landed and recorded, and so were the partitions the failed "
            "ones landed before failing; re-run the failed ones.",
        ) from first


def _in_turn(specs: list[EntitySpec]) -> list[EntitySpec]:
    """The core entities first (they have the first claim on the rate limit), then the
    catalog's order."""
    order = {name: i for i, name in enumerate(SPECS_BY_NAME)}
    return sorted(specs, key=lambda spec: (spec.core is None, order[spec.name]))


def unlicensed_message(module: str, names: list[str]) -> str:
    """The one message of a module the tenant answered 403/404 on."""
    return (
        f"The tenant answered 403/404 on the {module} module, so {len(names)} stream(s) "
        f"were not landed ({', '.join(sorted(names))}): the tenant is not licensed for "
        f"{module}, or the app lacks its read scope. The other streams landed. To stop "
        f"asking, leave it out: ST_STREAMS=all,-{module}."
    )


def build_changing_assets(
    partitions_def: dg.TimeWindowPartitionsDefinition,
    first_day: date,
    streams: tuple[EntitySpec, ...],
) -> dg.AssetsDefinition:
    """The streams that grow with the business, in partitions of ``modifiedOn`` landed
    from ``first_day``."""
    how = f"Partitions of modifiedOn (UTC), landed from {first_day.isoformat()}."

    @dg.multi_asset(
        name=CHANGING_OP,
        specs=[_spec(s, how) for s in streams],
        partitions_def=partitions_def,
        backfill_policy=dg.BackfillPolicy.single_run(),
        can_subset=True,
        pool=API_POOL,
    )
    def changing(
        context: dg.AssetExecutionContext,
        config: Refresh,
        servicetitan: ServiceTitanResource,
        warehouse: WarehouseResource,
    ) -> Iterator[dg.MaterializeResult | dg.AssetMaterialization]:
        landing = plan(context, config, first_day)
        days = landing.days
        context.log.info(
            "Landing %d day(s) of %d partition(s)%s",
            len(days),
            len(landing.partitions),
            f": {', '.join(config.days)} (refresh)" if config.days else "",
        )
        backend = servicetitan.get_backend()
        loaded_at = datetime.now(UTC)
        yield from _land(
            context,
            warehouse,
            lambda spec, report, turn: land_days(
                backend, warehouse, spec, days, loaded_at, report, turn
            ),
            landing,
        )

    return changing


def build_reference_assets(streams: tuple[EntitySpec, ...]) -> dg.AssetsDefinition:
    """The reference sets (technicians, business units, pricebook...) and the streams
    without a modification cursor, landed whole."""

    @dg.multi_asset(
        name="servicetitan_reference_entities",
        specs=[_spec(s, "Landed whole.") for s in streams],
        can_subset=True,
        pool=API_POOL,
    )
    def reference(
        context: dg.AssetExecutionContext,
        servicetitan: ServiceTitanResource,
        warehouse: WarehouseResource,
    ) -> Iterator[dg.MaterializeResult | dg.AssetMaterialization]:
        backend = servicetitan.get_backend()
        loaded_at = datetime.now(UTC)
        yield from _land(
            context,
            warehouse,
            lambda spec, _report, turn: land_whole(backend, warehouse, spec, loaded_at, turn),
        )

    return reference


def build_assets(
    first_day: str, granularity: Granularity, streams: tuple[EntitySpec, ...]
) -> list[dg.AssetsDefinition]:
    """An asset per stream of ``streams``, the changing ones in partitions of
    ``granularity`` landed from ``first_day``."""
    partitions_def = history_partitions(first_day, granularity)
    changing = tuple(s for s in streams if s.partitioned)
    whole = tuple(s for s in streams if not s.partitioned)
    built = []
    if changing:
        built.append(build_changing_assets(partitions_def, date.fromisoformat(first_day), changing))
    if whole:
        built.append(build_reference_assets(whole))
    return built


@dg.definitions
def servicetitan_entities() -> dg.Definitions:
    """The stream assets of ``ST_STREAMS``, landed from ``partitions_start()`` (both read
    now, when the location loads)."""
    streams = selected_streams()
    return dg.Definitions(assets=build_assets(partitions_start(), requested_granularity(), streams))
