-- Refreshes the orders that got an event since the last run (which, also when rebuilding:
-- int_orders_with_invoices__changed_orders) from every invoice and cancellation of theirs: one
-- that arrived before its order is found, whichever run brought each event in (macro
-- orders_to_refresh says where an order's own facts come from).
{%- set horizon = watermark_horizon() %}
{%- set folded_up_to = watermark_folded_up_to() %}
{%- set changed = 'select changed.order_id from '
    ~ ref('int_orders_with_invoices__changed_orders') ~ ' as changed' %}

with

orders as (
    {{ orders_to_refresh(ref('stg_orders__created'), changed, folded_up_to, horizon) }}
),

cancellations as (

    select
        cancelled.order_id,
        min(cancelled.occurred_at) as cancelled_at

    from {{ ref('stg_orders__cancelled') }} as cancelled

    where {{ below_horizon_of_changed('cancelled', 'order_id', horizon, changed) }}

    group by cancelled.order_id

),

invoices_ranked as (

    select
        invoices.order_id,
        invoices.invoice_id,
        invoices.invoice_url,
        max(invoices.occurred_at) over (partition by invoices.order_id) as last_invoiced_at,
        row_number() over (
            partition by invoices.order_id
            order by invoices.aggregate_version desc, invoices.occurred_at desc,
                invoices.event_id desc
        ) as recency_rank

    from {{ ref('stg_invoices__created') }} as invoices

    where {{ below_horizon_of_changed('invoices', 'order_id', horizon, changed) }}

),

final as (

    select
        orders.order_id,
        orders.user_id,
        orders.customer_name,
        orders.occurred_at as created_at,
        case
            when cancellations.order_id is not null then 'cancelled'
            when invoices_ranked.order_id is not null then 'invoiced'
            else 'created'
        end as status,
        invoices_ranked.invoice_id,
        invoices_ranked.invoice_url,
        cancellations.cancelled_at,
        greatest(
            orders.occurred_at, invoices_ranked.last_invoiced_at, cancellations.cancelled_at
        ) as updated_at,
        {{ horizon }}::bigint as changed_at_watermark

    from orders

    left join invoices_ranked
        on orders.order_id = invoices_ranked.order_id
        and invoices_ranked.recency_rank = 1

    left join cancellations
        on orders.order_id = cancellations.order_id

)

select * from final
