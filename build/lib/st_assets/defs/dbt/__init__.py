"""The dbt models of ``dbt_models/`` as Dagster assets, downstream of the ServiceTitan
assets: the models (``assets.py``, built when the location loads, from the manifest), how
dbt nodes become assets (``translator.py``), the full-build job (``jobs.py``) and the
project and its manifest (``project.py``, ``python -m st_assets.defs.dbt.project``)."""
