-- One row per event (event_id is raw's primary key), see stg_orders__created.
select * from (

    select
        source.event_id,
        (source.payload ->> 'order_id')::uuid as order_id,
        source.payload ->> 'reason' as reason,
        source.aggregate_version,
        source.occurred_at,
        source.ingest_batch_id,
        source.ingest_txid,
        source.ingested_at

    from {{ source('raw', 'order_cancelled') }} as source

) as renamed
