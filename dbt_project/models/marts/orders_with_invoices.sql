-- Refreshes the orders that got an event since the last run (which, also when rebuilding:
-- int_orders_with_invoices__changed_orders). An order already in the mart folds its new
-- invoices and cancellations into its row (macro folds_into_mart); a new one, a first build,
-- a full refresh and a rebuild from a date read all of the order's events: an invoice that
-- arrived before its order is found, whichever run brought it in (macro orders_to_refresh
-- says where an order's own facts come from).
{%- set horizon = watermark_horizon() %}
{%- set folded_up_to = watermark_folded_up_to() %}
{%- set changed = 'select changed.order_id from '
    ~ ref('int_orders_with_invoices__changed_orders') ~ ' as changed' %}
{%- set new_orders = 'select created.order_id from ' ~ ref('stg_orders__created')
    ~ ' as created where ' ~ events_to_fold('created', folded_up_to, horizon) %}
{%- set folding = folds_into_mart() %}

with

{%- if folding %}
-- The rows the mart holds for the changed orders: what their new events fold into.
known as (

    select known.*
    from {{ this }} as known
    where known.order_id = any(array({{ changed }}))

),
{%- endif %}

orders as (
    {{ orders_to_refresh(ref('stg_orders__created'), 'known', changed, folded_up_to, horizon) }}
),

cancellations_seen as (
    {{ order_events_to_refresh_from(
        ref('stg_orders__cancelled'), 'cancelled', 'cancelled.order_id, cancelled.occurred_at',
        changed, new_orders, folded_up_to, horizon
    ) }}
    {%- if folding %}

    union all

    -- What the mart already holds: the earliest cancellation folded so far.
    select known.order_id, known.cancelled_at
    from known
    where known.cancelled_at is not null
    {%- endif %}
),

cancellations as (

    select
        cancellations_seen.order_id,
        min(cancellations_seen.occurred_at) as cancelled_at

    from cancellations_seen

    group by cancellations_seen.order_id

),

invoices_seen as (
    {{ order_events_to_refresh_from(
        ref('stg_invoices__created'), 'invoices',
        'invoices.order_id, invoices.invoice_id, invoices.invoice_url,'
        ~ ' invoices.aggregate_version, invoices.occurred_at, invoices.event_id',
        changed, new_orders, folded_up_to, horizon
    ) }}
    {%- if folding %}

    union all

    -- What the mart already holds: the current invoice, with its ranking key.
    select
        known.order_id,
        known.invoice_id,
        known.invoice_url,
        known.invoice_version,
        known.invoice_issued_at,
        known.invoice_event_id

    from known

    where known.invoice_id is not null
    {%- endif %}
),

invoices_ranked as (

    select
        invoices_seen.order_id,
        invoices_seen.invoice_id,
        invoices_seen.invoice_url,
        invoices_seen.aggregate_version,
        invoices_seen.occurred_at,
        invoices_seen.event_id,
        max(invoices_seen.occurred_at) over (partition by invoices_seen.order_id)
            as last_invoiced_at,
        row_number() over (
            partition by invoices_seen.order_id
            order by invoices_seen.aggregate_version desc, invoices_seen.occurred_at desc,
                invoices_seen.event_id desc
        ) as recency_rank

    from invoices_seen

),

final as (

    select
        orders.order_id,
        orders.user_id,
        orders.customer_name,
        orders.channel,
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
            orders.occurred_at, invoices_ranked.last_invoiced_at, cancellations.cancelled_at,
            orders.held_updated_at
        ) as updated_at,
        invoices_ranked.aggregate_version as invoice_version,
        invoices_ranked.occurred_at as invoice_issued_at,
        invoices_ranked.event_id as invoice_event_id,
        {{ horizon }}::bigint as changed_at_watermark

    from orders

    left join invoices_ranked
        on orders.order_id = invoices_ranked.order_id
        and invoices_ranked.recency_rank = 1

    left join cancellations
        on orders.order_id = cancellations.order_id

)

select * from final
