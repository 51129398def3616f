"""Declarative automation: what runs after the raw data lands.

The ingest schedules and sensors land the entities; the asset checks of the landing and
the dbt models follow by themselves, each through this condition, evaluated by a sensor
that is on by default:

- ``ingest_checks_automation`` (``ingest/sensors.py``): each ingest check once the assets
  it reads have landed, in a run of checks only. The ingest jobs leave checks out because,
  inside a ranged run, Dagster would store each check as planned once per partition
  (about 19,000 rows for three years) before the run starts; a run of checks alone has no
  partitions.
- ``warehouse_models_automation`` (``dbt/sensors.py``): the dbt models whose sources (or
  upstream models) changed, in one ``dbt build`` of those models, under the warehouse
  lock and in the ``warehouse_duckdb`` pool.

Why ``AFTER_LANDING`` is ``eager()`` without its missing-dependency guard: a model or a
check reads the whole landing of its entities, so any landed partition, today's or a
backfilled month, makes it stale; it waits while an upstream run is still landing
(``~any_deps_in_progress``), so a burst of ingest runs (the 15-minute schedule launches
two) is usually followed by one build, not two. ``eager()`` would also wait for every partition
since ``ST_PARTITIONS_START`` to exist, which never happens before the whole history is
backfilled, so that guard is dropped. Unlike ``on_cron``, which waits for every dependency
to update after a tick, it does not hold the models until the nightly reference sets land.
"""

from __future__ import annotations

import dagster as dg

AFTER_LANDING = (
    dg.AutomationCondition.eager()
    .without(~dg.AutomationCondition.any_deps_missing())
    .with_label("after_landing")
)
"""Run after any dependency lands, once nothing upstream is still running."""


def after_landing_sensor(
    name: str, target: dg.AssetSelection, description: str
) -> dg.AutomationConditionSensorDefinition:
    """The sensor that evaluates the automation conditions of ``target`` every minute and
    launches what they ask for; on by default (Dagster's own default sensor is not)."""
    return dg.AutomationConditionSensorDefinition(
        name,
        target=target,
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=60,
        description=description,
    )
