{#- Fails on every aggregate whose versions are not exactly 1, 2, ..., n: a gap is a lost
    event, a repeat a duplicated one. With `first_may_lag`, for aggregates whose events come
    from topics ingested independently, the first versions may still be on their way: the
    versions present must then run without gaps or repeats from the lowest one. -#}
{% test versions_gap_free(model, column_name, partition_by, first_may_lag=false) %}

select
    {{ partition_by }},
    count(*) as events,
    count(distinct {{ column_name }}) as distinct_versions,
    min({{ column_name }}) as first_version,
    max({{ column_name }}) as last_version

from {{ model }}

group by {{ partition_by }}

having
    {% if not first_may_lag -%}
    min({{ column_name }}) <> 1 or
    {% endif -%}
    max({{ column_name }}) - min({{ column_name }}) + 1 <> count(*)
    or count(distinct {{ column_name }}) <> count(*)

{% endtest %}
