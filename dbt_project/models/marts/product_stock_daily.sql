-- Stock at the end of each day (UTC) on which a product had operations; on a day without a
-- row, the stock is that of the latest row before it. New operations of a day rewrite that
-- day and every later day of the product (a late operation shifts what follows it), from the
-- stock at the end of the day before: no re-read of the log. Rebuilding from a date (var
-- rebuild_from) recomputes every product's days from it on from the log's operations.
{%- set horizon = watermark_horizon() %}

with

new_days as (
    select * from {{ ref('int_product_stock_daily__days_to_fold') }}
),

first_changed_days as (

    select new_days.product_id, min(new_days.day) as first_day
    from new_days
    group by new_days.product_id

),

rewritten_days as (
    {{ stored_days_to_rewrite('first_changed_days', 'new_days') }}
),

opening as (
    {{ stock_before_first_day('first_changed_days', 'new_days') }}
),

days as (

    select
        all_days.product_id,
        all_days.day,
        sum(all_days.net_change)::bigint as net_change,
        sum(all_days.operation_count)::bigint as operation_count,
        max(all_days.version) as version,
        max(all_days.last_operation_at) as last_operation_at

    from (
        select * from new_days
        union all
        select * from rewritten_days
    ) as all_days

    group by all_days.product_id, all_days.day

),

final as (

    select
        days.product_id,
        days.day,
        (coalesce(opening.stock, 0) + sum(days.net_change) over running)::bigint as stock,
        greatest(opening.version, max(days.version) over running) as version,
        greatest(
            opening.last_operation_at, max(days.last_operation_at) over running
        ) as last_operation_at,
        days.net_change,
        days.operation_count,
        {{ horizon }}::bigint as changed_at_watermark

    from days

    left join opening
        on days.product_id = opening.product_id

    window running as (
        partition by days.product_id
        order by days.day
        rows between unbounded preceding and current row
    )

)

select * from final
