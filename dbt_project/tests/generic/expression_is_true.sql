{#- Fails on every row where the expression is not true (what dbt_utils.expression_is_true
    does; the package hub is unreachable). -#}
{% test expression_is_true(model, expression) %}

select *

from {{ model }}

where not coalesce(({{ expression }}), false)

{% endtest %}
