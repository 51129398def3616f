{#- The newest version of each record of a ServiceTitan source. Raw rows are versions: a
    record lands in the partition of every day it was modified, so the same id can appear
    in several partitions; the newest modifiedOn wins (then the latest load). -#}
{% macro latest_version(entity) -%}
(
    select *
    from {{ source('servicetitan', entity) }}
    qualify row_number() over (
        partition by id order by "modifiedOn" desc, _loaded_at desc
    ) = 1
)
{%- endmacro %}

{#- Money as an exact decimal (never a float). -#}
{% macro money(expression) -%}
cast({{ expression }} as decimal(18, 2))
{%- endmacro %}

{#- A timestamp as UTC (the profile's session time zone is UTC). -#}
{% macro utc(expression) -%}
cast({{ expression }} as timestamptz)
{%- endmacro %}
