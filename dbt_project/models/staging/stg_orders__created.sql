-- One row per event: event_id is the primary key of the raw table (the ingest skips
-- replays), so staging needs no distinct, which would hide the marts' watermark filter
-- from raw's ingest_txid index. A subquery, not a `with`: PostgreSQL does not flatten a
-- view that has a `with` into the query that reads it, so a join to it on order_id or
-- event_id (a relationships test, stg_raw__quarantined) could not use raw's indexes and
-- read the whole table for a few new rows (docs/benchmarks.md, whole pass).
select * from (

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

    from {{ source('raw', 'order_created') }} as source

) as renamed
