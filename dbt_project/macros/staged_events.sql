{#- Generated from contracts/ by `python -m contracts.generate`: do not edit by hand. -#}

{#- Each raw table of an event type and the staging model that reads it. -#}
{% macro staged_events() -%}
    {{ return([
        ('order_created', 'stg_orders__created'),
        ('order_cancelled', 'stg_orders__cancelled'),
        ('invoice_created', 'stg_invoices__created'),
        ('stock_updated', 'stg_stock__updated'),
    ]) }}
{%- endmacro %}

{#- The staging models of the event types a mart is folded from. -#}
{% macro staging_models_feeding(mart) -%}
    {{ return({
        'orders_with_invoices': ['stg_orders__created', 'stg_orders__cancelled', 'stg_invoices__created'],
        'product_stock_daily': ['stg_stock__updated'],
        'products': ['stg_stock__updated'],
    }[mart]) }}
{%- endmacro %}

{#- (event type, staging model) of one aggregate's events: those keyed by `key`. -#}
{% macro events_keyed_by(key) -%}
    {{ return({
        'invoice_id': [('invoice.created', 'stg_invoices__created')],
        'order_id': [('order.created', 'stg_orders__created'), ('order.cancelled', 'stg_orders__cancelled')],
        'product_id': [('stock.updated', 'stg_stock__updated')],
    }[key]) }}
{%- endmacro %}
