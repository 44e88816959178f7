-- One row per event (event_id is raw's primary key), see stg_orders__created. Raw keeps
-- each event in the version it was written in; v1 named stock_amount `amount` (the upcast).
{%- set stock_amount -%}
    case source.schema_version
        when 1 then source.payload ->> 'amount'
        else source.payload ->> 'stock_amount'
    end
{%- endset %}
select * from (

    select
        source.event_id,
        source.payload ->> 'product_id' as product_id,
        source.payload ->> 'operation' as operation,
        {{ bigint_or_null(stock_amount) }} as stock_amount,
        case source.payload ->> 'operation'
            when 'increase' then {{ bigint_or_null(stock_amount) }}
            when 'decrease' then -{{ bigint_or_null(stock_amount) }}
        end as signed_amount,
        source.schema_version,
        source.aggregate_version as version,
        source.occurred_at,
        source.ingest_batch_id,
        source.ingest_txid,
        source.ingested_at

    from {{ source('raw', 'stock_updated') }} as source

) as renamed

-- A value the cast could not take leaves the row out; stg_raw__quarantined lists it.
where renamed.stock_amount is not null
