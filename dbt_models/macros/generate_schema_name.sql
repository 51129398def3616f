{#- Schemas are exactly `staging`, `marts` and `reports` (not dbt's `main_staging`), so
    consumers query marts.fct_invoices. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
{{ custom_schema_name | trim if custom_schema_name else target.schema }}
{%- endmacro %}
