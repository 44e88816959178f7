-- One row per event (event_id is raw's primary key), see stg_orders__created.
with

source as (

    select * from {{ source('raw', 'invoice_created') }}

),

renamed as (

    select
        source.event_id,
        (source.payload ->> 'invoice_id')::uuid as invoice_id,
        (source.payload ->> 'order_id')::uuid as order_id,
        source.payload ->> 'invoice_url' as invoice_url,
        source.aggregate_version,
        source.occurred_at,
        source.ingest_batch_id,
        source.ingest_txid,
        source.ingested_at

    from source

)

select * from renamed
