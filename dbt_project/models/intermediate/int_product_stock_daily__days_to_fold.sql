-- Per product and day (UTC), the stock operations that product_stock_daily folds in this run:
-- those ingested in its window and, rebuilding from a date (var rebuild_from), every
-- operation below the horizon that occurred on or after it.
{%- set horizon = watermark_horizon() %}
{%- set folded_up_to = mart_folded_up_to('product_stock_daily') %}

with

operations as (

    select
        operations.product_id,
        (operations.occurred_at at time zone 'UTC')::date as day,
        operations.signed_amount,
        operations.version,
        operations.occurred_at

    from {{ ref('stg_stock__updated') }} as operations

    where {{ events_to_fold('operations', folded_up_to, horizon) }}

),

days as (

    select
        operations.product_id,
        operations.day,
        sum(operations.signed_amount)::bigint as net_change,
        count(*) as operation_count,
        max(operations.version) as version,
        max(operations.occurred_at) as last_operation_at

    from operations

    group by operations.product_id, operations.day

)

select * from days
