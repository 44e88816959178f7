-- Every event of the order aggregate, whatever its topic: what a per-order check reads
-- (each topic is staged on its own, the aggregate's versions run across them).
-- A view, unlike the ephemeral window models beside it: only checks read it, whole.
{{ config(materialized='view') }}
with

created as (

    select
        created.order_id,
        created.event_id,
        'order.created' as event_type,
        created.aggregate_version,
        created.occurred_at,
        created.ingest_txid

    from {{ ref('stg_orders__created') }} as created

),

cancelled as (

    select
        cancelled.order_id,
        cancelled.event_id,
        'order.cancelled' as event_type,
        cancelled.aggregate_version,
        cancelled.occurred_at,
        cancelled.ingest_txid

    from {{ ref('stg_orders__cancelled') }} as cancelled

),

unioned as (

    select * from created
    union all
    select * from cancelled

)

select * from unioned
