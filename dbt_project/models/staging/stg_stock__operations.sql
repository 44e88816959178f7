with

source as (

    select * from {{ source('raw', 'stock_updated') }}

),

renamed as (

    select
        source.event_id,
        source.payload ->> 'product_id' as product_id,
        source.payload ->> 'operation' as operation,
        (source.payload ->> 'amount')::int as amount,
        case source.payload ->> 'operation'
            when 'increase' then (source.payload ->> 'amount')::int
            when 'decrease' then -(source.payload ->> 'amount')::int
        end as signed_amount,
        source.aggregate_version as version,
        source.occurred_at,
        source.ingest_batch_id

    from source

)

select * from renamed
