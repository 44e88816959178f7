{#- Fails on every row whose `column_name` is not a `field` of `to` with the same `key`: a
    relationships test that also says the parent belongs to the row's own entity (an
    order's invoice is an invoice of that order). Joined by `key` as well, the lookup can
    use an index on the key where the field has none: the check then costs the rows it
    looks at, not the parent's whole history (docs/benchmarks.md, whole pass). -#}
{% test relationships_within_key(model, column_name, to, field, key) %}

select
    child.{{ key }},
    child.{{ column_name }}

from (select * from {{ model }}) as child  {# the model may be a `where` subquery #}

where child.{{ column_name }} is not null
    and not exists (
        select 1
        from {{ to }} as parent
        where parent.{{ key }} = child.{{ key }}
            and parent.{{ field }} = child.{{ column_name }}
    )

{% endtest %}
