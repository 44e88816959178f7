-- One row per event: event_id is the primary key of the raw table (the ingest skips
-- replays), so staging needs no distinct, which would hide the marts' watermark filter
-- from raw's ingest_txid index.
with

source as (

    select * from {{ source('raw', 'order_created') }}

),

renamed as (

    select
        source.event_id,
        (source.payload ->> 'order_id')::uuid as order_id,
        source.payload ->> 'user_id' as user_id,
        source.payload ->> 'customer_name' as customer_name,
        source.payload -> 'items' as items,
        -- upcast v1 -> v2: v1 did not record the channel; it is marked, not guessed
        case
            when source.schema_version = 1 then 'unknown'
            else source.payload ->> 'channel'
        end as channel,
        source.schema_version,
        source.aggregate_version,
        source.occurred_at,
        source.ingest_batch_id,
        source.ingest_txid,
        source.ingested_at

    from source

)

select * from renamed
