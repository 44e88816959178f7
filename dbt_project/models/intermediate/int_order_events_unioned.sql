-- Every event of the order aggregate, whatever its topic: what a per-order check reads
-- (each topic is staged on its own, the aggregate's versions run across them). The event
-- types are those the catalogue keys by order_id (macros/staged_events.sql).
-- A view, unlike the ephemeral window models beside it: only checks read it, whole.
{{ config(materialized='view') }}
{%- set events = events_keyed_by('order_id') %}

with

{% for event_type, model in events %}
{{ model }} as (

    select
        staged.order_id,
        staged.event_id,
        '{{ event_type }}' as event_type,
        staged.aggregate_version,
        staged.occurred_at,
        staged.ingest_txid

    from {{ ref(model) }} as staged

),

{% endfor %}
unioned as (

    {% for _, model in events %}
    select * from {{ model }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select * from unioned
