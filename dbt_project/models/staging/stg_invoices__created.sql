-- One row per event (event_id is raw's primary key), see stg_orders__created.
select * from (

    select
        source.event_id,
        {{ uuid_or_null("source.payload ->> 'invoice_id'") }} as invoice_id,
        -- Cannot fail: raw's index on this very cast keeps non-UUIDs out (ingest/schema.sql),
        -- and the marts' lookups by order use that index.
        (source.payload ->> 'order_id')::uuid as order_id,
        source.payload ->> 'invoice_url' as invoice_url,
        source.aggregate_version,
        source.occurred_at,
        source.ingest_batch_id,
        source.ingest_txid,
        source.ingested_at

    from {{ source('raw', 'invoice_created') }} as source

) as renamed

-- A value the cast could not take leaves the row out; stg_raw__quarantined lists it.
where renamed.invoice_id is not null
