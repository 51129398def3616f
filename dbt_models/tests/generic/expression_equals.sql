{#- Rows where `column_name` differs from `expression` (both exact decimals). -#}
{% test expression_equals(model, column_name, expression, where_clause='true') %}
select *
from {{ model }}
where ({{ where_clause }})
  and {{ column_name }} is distinct from ({{ expression }})
{% endtest %}
