-- Stock at the end of each day (UTC) on which a product had operations; on a day without a
-- row, the stock is that of the latest row before it. New operations of a day rewrite that
-- day and every later day of the product (a late operation shifts what follows it),
-- starting from the stock at the end of the day before: no re-read of the log.
-- Rebuilding from a date (var rebuild_from): the days on or after it of every product with
-- an operation then are recomputed from the log's operations of those days, from the stock
-- at the end of the day before.
{%- set horizon = watermark_horizon() %}
{%- set folded_up_to = watermark_folded_up_to() %}
{%- do rebuild_from() %}  {#- a bad date fails a full refresh too #}

with

new_operations as (

    select operations.*
    from {{ ref('stg_stock__updated') }} as operations
    where {{ events_to_fold('operations', folded_up_to, horizon) }}

),

new_days as (

    select
        new_operations.product_id,
        (new_operations.occurred_at at time zone 'UTC')::date as day,
        sum(new_operations.signed_amount)::bigint as net_change,
        count(*) as operation_count,
        max(new_operations.version) as version,
        max(new_operations.occurred_at) as last_operation_at

    from new_operations

    group by new_operations.product_id, (new_operations.occurred_at at time zone 'UTC')::date

),

first_changed_days as (

    select
        new_days.product_id,
        min(new_days.day) as first_day

    from new_days

    group by new_days.product_id

),

{% if is_incremental() %}
-- Index range scans per changed product: cost follows the days rewritten, not the history.
rewritten_days as (

    select
        first_changed_days.product_id,
        current_rows.day,
        current_rows.net_change,
        current_rows.operation_count,
        current_rows.version,
        current_rows.last_operation_at

    from first_changed_days

    cross join lateral (
        select *
        from {{ this }} as product_days
        where product_days.product_id = first_changed_days.product_id
            and product_days.day >= first_changed_days.first_day
            {%- if rebuild_from() is not none %}
            -- from that date on, new_operations holds every operation of the day
            and product_days.day < date '{{ rebuild_from() }}'
            {%- endif %}
    ) as current_rows

),

opening as (

    select
        first_changed_days.product_id,
        closing.stock,
        closing.version,
        closing.last_operation_at

    from first_changed_days

    cross join lateral (
        select *
        from {{ this }} as product_days
        where product_days.product_id = first_changed_days.product_id
            and product_days.day < first_changed_days.first_day
        order by product_days.day desc
        limit 1
    ) as closing

),
{% else %}
-- A first build: nothing to rewrite, every product opens at zero.
rewritten_days as (select new_days.* from new_days where false),

opening as (

    select new_days.product_id, 0::bigint as stock, new_days.version, new_days.last_operation_at
    from new_days
    where false

),
{% endif %}

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
