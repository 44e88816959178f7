-- Joined over all staged rows, so an invoice that arrived before its order
-- appears as soon as the order does.
with

orders as (

    select * from {{ ref('stg_orders__created') }}

),

cancellations as (

    select
        cancelled.order_id,
        min(cancelled.occurred_at) as cancelled_at

    from {{ ref('stg_orders__cancelled') }} as cancelled

    group by cancelled.order_id

),

invoices_ranked as (

    select
        invoices.order_id,
        invoices.invoice_id,
        invoices.invoice_url,
        row_number() over (
            partition by invoices.order_id
            order by invoices.occurred_at desc, invoices.event_id desc
        ) as recency_rank

    from {{ ref('stg_invoices__created') }} as invoices

),

latest_invoices as (

    select
        invoices_ranked.order_id,
        invoices_ranked.invoice_id,
        invoices_ranked.invoice_url

    from invoices_ranked

    where invoices_ranked.recency_rank = 1

),

final as (

    select
        orders.order_id,
        orders.user_id,
        orders.customer_name,
        orders.occurred_at as created_at,
        case
            when cancellations.order_id is not null then 'cancelled'
            when latest_invoices.order_id is not null then 'invoiced'
            else 'created'
        end as status,
        latest_invoices.invoice_id,
        latest_invoices.invoice_url,
        cancellations.cancelled_at

    from orders

    left join latest_invoices
        on orders.order_id = latest_invoices.order_id

    left join cancellations
        on orders.order_id = cancellations.order_id

)

select * from final
