"""The definitions of the code location, loaded by convention (``dg.load_from_defs_folder``):
every module of this tree contributes its module-level jobs, schedules, sensors and checks,
or, where something is read when the location loads (the partitions' first day, the dbt
manifest, the resources), the ``dg.Definitions`` its ``@dg.definitions`` function returns.

- ``ingest/``: the entity assets, their checks, jobs, schedules and sensors.
- ``writeback/``: the write jobs, their op, the queue and freshness sensors, auto-invoice.
- ``dbt/``: the dbt models as assets, the full-build job, their automation sensor.
- ``automation.py``: declarative automation after landing (the checks and the dbt models).
- ``resources.py``: the resources, from ``ST_*`` variables.
- ``names.py``: the names these modules share (asset keys, groups, pools).
"""
