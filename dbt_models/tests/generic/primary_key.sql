{#- A key: the values of `column_name` shared by several rows, and its nulls (unless
    `nullable`: the spec allows a null key), in one query instead of `unique` plus
    `not_null` (two queries over the same staging view). -#}
{% test primary_key(model, column_name, nullable=false) %}
select {{ column_name }} as key_value, count(*) as rows_with_it
from {{ model }}
{%- if nullable %}
where {{ column_name }} is not null
{%- endif %}
group by {{ column_name }}
having count(*) > 1 or {{ column_name }} is null
{% endtest %}
