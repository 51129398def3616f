"""The dbt models of ``dbt_models/`` as Dagster assets, downstream of the ServiceTitan assets."""
