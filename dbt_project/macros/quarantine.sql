{#- The raw rows that their staging model leaves out because a payload field cannot be cast
    (macros/safe_casts.sql): what staging keeps is the one definition, this lists the rest.
    The tables and models come from the event catalogue (macros/staged_events.sql).

    `in_check_window`: only the rows in the data tests' window (macros/check_windows.sql),
    by the raw table's window column, on both sides of each anti-join. A staged row is its
    raw row and carries the same column, so the window leaves out no pair the whole list
    would match. On the raw side alone it would not do: raw has no index on event_id
    (raw.event_ids keeps ids unique), so the anti-join would read every staged row of the
    history for a few new raw ones (docs/benchmarks.md, whole pass). -#}
{% macro rows_left_out_by_staging(in_check_window=false) -%}
{%- set staged = staged_events() %}

with

{% for table, model in staged %}
{%- set column = check_window_column(source('raw', table)) if in_check_window else none %}
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
        select 1 from {{ ref(model) }} as staged
        where staged.event_id = source.event_id
        {%- if column %}
            and {{ check_window_condition(column, 'staged') }}
        {%- endif %}
    )
    {%- if column %}
        and {{ check_window_condition(column, 'source') }}
    {%- endif %}

),

{% endfor %}
unioned as (

    {% for table, _ in staged %}
    select * from {{ table }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select * from unioned
{%- endmacro %}
