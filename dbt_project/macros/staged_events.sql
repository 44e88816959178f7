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
