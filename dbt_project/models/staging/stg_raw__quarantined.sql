-- Raw rows that their staging model leaves out because a payload field cannot be cast
-- (macros/safe_casts.sql): what staging keeps is the one definition, this lists the rest.
-- The tables and models come from the event catalogue (macros/staged_events.sql).
{%- set staged = staged_events() %}

with

{% for table, model in staged %}
{{ table }} as (

    select
        source.event_id,
        source.event_type,
        source.aggregate_id,
        source.aggregate_version,
        source.payload,
        source.kafka_topic,
        source.kafka_partition,
        source.kafka_offset,
        source.ingested_at,
        source.ingest_txid

    from {{ source('raw', table) }} as source

    where not exists (
        select 1 from {{ ref(model) }} as staged where staged.event_id = source.event_id
    )

),

{% endfor %}
unioned as (

    {% for table, _ in staged %}
    select * from {{ table }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select * from unioned
