"""Which days a run of the changing entities lands, and the run requests that refresh the
recent days.

A run lands every day of its partitions (each partition is replaced), from the first day
landed (``ST_PARTITIONS_START``) to today. With ``Refresh.days`` it lands only those days
and keeps the partitions' other days: the 15-minute schedule, the change feed and the
write-back's freshness sensor refresh today's (and yesterday's) days of the current month
that way, so their API calls follow the changes, not the month.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import dagster as dg
from pydantic import Field

from st_assets.defs.ingest.partitions import by_partition, today
from st_assets.defs.names import asset_key

CHANGING_OP = "servicetitan_changing_entities"
"""The multi-asset of the changing entities (the op its run config is keyed by)."""


class Refresh(dg.Config):
    """What a run of the changing entities lands."""

    days: list[str] = Field(
        default_factory=list,
        description="Re-land only these UTC days (YYYY-MM-DD) of the run's partitions and "
        "keep their other days (what the schedule and the change feed ask for). Empty: every "
        "day of the partitions, which are replaced.",
    )


@dataclass(frozen=True)
class Plan:
    """The days a run lands, by partition key (in order)."""

    partitions: Mapping[str, Sequence[date]]

    @property
    def days(self) -> list[date]:
        return [day for days in self.partitions.values() for day in days]


def plan(context: dg.AssetExecutionContext, config: Refresh, first_day: date) -> Plan:
    """The days the run of ``context`` lands: those of ``config`` or every day of its
    partitions, from ``first_day`` to today. A day that is not a date or not in the run's
    partitions fails the run before anything is read, naming the day and the range."""
    partitions_def = context.assets_def.partitions_def
    assert isinstance(partitions_def, dg.TimeWindowPartitionsDefinition)
    window = context.partition_time_window
    start, end = window.start.date(), window.end.date()
    if not config.days:
        last = min(end - timedelta(days=1), today())
        span = (last - max(start, first_day)).days + 1
        wanted = [max(start, first_day) + timedelta(days=i) for i in range(max(0, span))]
        return Plan(by_partition(partitions_def, wanted))
    wanted = []
    for text in config.days:
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise dg.Failure(f"Refresh day {text!r} is not a YYYY-MM-DD date.") from None
        if not start <= day < end:
            raise dg.Failure(
                f"Refresh day {text} is not in the run's partitions "
                f"({start.isoformat()} to {(end - timedelta(days=1)).isoformat()}): run the "
                "partition that holds it."
            )
        wanted.append(day)
    return Plan(by_partition(partitions_def, wanted))


def changing_partitions(
    repository: dg.RepositoryDefinition | None,
) -> dg.TimeWindowPartitionsDefinition:
    """The partitions of the changing entities in the loaded ``repository`` (a sensor's or
    a schedule's ``context.repository_def``)."""
    if repository is None:
        raise ValueError(
            "the refresh needs the definitions of the changing entities: evaluate the sensor "
            "or schedule with them (build_sensor_context(definitions=...))"
        )
    partitions_def = repository.assets_defs_by_key[asset_key("jobs")].partitions_def
    assert isinstance(partitions_def, dg.TimeWindowPartitionsDefinition)
    return partitions_def


def refresh_requests(
    repository: dg.RepositoryDefinition | None,
    days: Iterable[date],
    run_key: str,
    *,
    asset_selection: Sequence[dg.AssetKey] | None = None,
    tags: Mapping[str, str] | None = None,
    job_name: str | None = None,
) -> list[dg.RunRequest]:
    """One run per partition holding ``days`` (two across the turn of a month), landing
    only those days; ``run_key`` is suffixed with the partition key."""
    partitions_def = changing_partitions(repository)
    requests = []
    for key, group in by_partition(partitions_def, days).items():
        if not partitions_def.has_partition_key(key):
            continue  # before the first partition (ST_PARTITIONS_START is today)
        config = {"days": [day.isoformat() for day in group]}
        requests.append(
            dg.RunRequest(
                run_key=f"{run_key}@{key}",
                job_name=job_name,
                partition_key=key,
                run_config={"ops": {CHANGING_OP: {"config": config}}},
                asset_selection=list(asset_selection) if asset_selection else None,
                tags=dict(tags or {}),
            )
        )
    return requests
