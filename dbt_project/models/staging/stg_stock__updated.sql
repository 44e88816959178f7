-- One row per event (event_id is raw's primary key), see stg_orders__created.
with

source as (

    select * from {{ source('raw', 'stock_updated') }}

),

renamed as (

    select
        source.event_id,
        source.payload ->> 'product_id' as product_id,
        source.payload ->> 'operation' as operation,
        {{ bigint_or_null("source.payload ->> 'amount'") }} as amount,
        case source.payload ->> 'operation'
            when 'increase' then {{ bigint_or_null("source.payload ->> 'amount'") }}
            when 'decrease' then -{{ bigint_or_null("source.payload ->> 'amount'") }}
        end as signed_amount,
        source.aggregate_version as version,
        source.occurred_at,
        source.ingest_batch_id,
        source.ingest_txid,
        source.ingested_at

    from source

)

select * from renamed

-- A value the cast could not take leaves the row out; stg_raw__quarantined lists it.
where renamed.amount is not null
