{#- Fails on every aggregate whose versions are not exactly 1, 2, ..., n: a gap is a lost
    event, a repeat a duplicated one. -#}
{% test versions_gap_free(model, column_name, partition_by) %}

select
    {{ partition_by }},
    count(*) as events,
    count(distinct {{ column_name }}) as distinct_versions,
    min({{ column_name }}) as first_version,
    max({{ column_name }}) as last_version

from {{ model }}

group by {{ partition_by }}

having
    min({{ column_name }}) <> 1
    or max({{ column_name }}) <> count(*)
    or count(distinct {{ column_name }}) <> count(*)

{% endtest %}
