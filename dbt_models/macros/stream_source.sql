{#- The raw view of a generated (non-core) stream, or, when the stream has never landed
    (a warehouse from before it was landed), an empty relation of its landed columns and
    types (the data_type of each column in models/staging/generated/_sources.yml). The
    landing creates a typed empty raw.<stream> for every stream, so this fallback only
    serves older warehouses. -#}
{% macro stream_source(entity) -%}
{%- set relation = source('servicetitan', entity) -%}
{%- if execute and load_relation(relation) is none -%}
{%- set table = graph.sources['source.' ~ project_name ~ '.servicetitan.' ~ entity] -%}
(
    select
    {%- for column in table.columns.values() %}
        cast(null as {{ column.data_type }}) as {{ adapter.quote(column.name) }}{{ "," if not loop.last }}
    {%- endfor %}
    where false
)
{%- else -%}
{{ relation }}
{%- endif -%}
{%- endmacro %}
