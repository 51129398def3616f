{#- Combinations of `columns` that occur more than once (dbt_utils' test, without the
    package: `dbt deps` needs the network). -#}
{% test dbt_utils_free_unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as n
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
