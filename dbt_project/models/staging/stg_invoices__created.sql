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
        source.occurred_at,
        source.ingest_batch_id

    from source

)

select * from renamed
