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
        source.aggregate_version,
        source.occurred_at,
        source.ingest_batch_id,
        source.ingested_at

    from source

)

select * from renamed
