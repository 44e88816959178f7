{#- The mechanics of an incremental mart's window (docs/adr/incremental-watermark.md), used by
    the intermediate models that select what a mart's run folds and, for what reads the mart
    itself (`this`, which an ephemeral model cannot see), by the marts
    (docs/adr/intermediate-models.md). -#}

{#- The distinct `key`s of the given staging relations with an event this run folds
    (events_to_fold). -#}
{% macro keys_with_events_to_fold(key, relations, folded_up_to, horizon) -%}
    {%- for relation in relations %}
    select events.{{ key }}
    from {{ relation }} as events
    where {{ events_to_fold('events', folded_up_to, horizon) }}
    {%- if not loop.last %}

    union
    {% endif %}
    {%- endfor %}
{%- endmacro %}


{#- `<alias>` rows below the horizon and, in an incremental run, of the changed keys only.
    `changed` is an array expression: the planner then reads the key's index once per changed
    key instead of hashing the whole history. -#}
{% macro below_horizon_of_changed(alias, key, horizon, changed) -%}
    {{ alias }}.ingest_txid < {{ horizon }}
    {%- if is_incremental() %} and {{ alias }}.{{ key }} = any(array({{ changed }})){% endif %}
{%- endmacro %}


{#- The keys of `relation` with an event below the horizon that occurred on or after the
    rebuild date, as a select; call only when rebuild_from() is set. -#}
{% macro keys_rebuilt_from(key, relation, horizon) -%}
    select distinct rebuilt.{{ key }}
    from {{ relation }} as rebuilt
    where rebuilt.ingest_txid < {{ horizon }}
        and {{ occurred_since_rebuild_from('rebuilt') }}
{%- endmacro %}



{#- The order.created facts (order_id, user_id, customer_name, channel, occurred_at) of
    the orders orders_with_invoices refreshes, and the `updated_at` its row holds (null for an order
    not in the mart). Folding (folds_into_mart()), a new order comes from its event and an
    order already in the mart from its row there (`known`, the mart's rows of the changed
    orders), which the run rewrites anyway: an old order's event lies anywhere in the raw
    history, and reading it back made the run's cost grow with the history
    (docs/benchmarks.md). A first build or a rebuild from a date reads the events. -#}
{% macro orders_to_refresh(created_events, known, changed, folded_up_to, horizon) -%}
    {%- if folds_into_mart() %}
    select
        created.order_id, created.user_id, created.customer_name, created.channel,
        created.occurred_at,
        null::timestamptz as held_updated_at
    from {{ created_events }} as created
    where {{ events_to_fold('created', folded_up_to, horizon) }}

    union all

    select
        known.order_id, known.user_id, known.customer_name, known.channel,
        known.created_at,
        known.updated_at
    from {{ known }} as known
    {%- else %}
    select
        created.order_id, created.user_id, created.customer_name, created.channel,
        created.occurred_at,
        null::timestamptz as held_updated_at
    from {{ created_events }} as created
    where {{ below_horizon_of_changed('created', 'order_id', horizon, changed) }}
    {%- endif %}
{%- endmacro %}


{#- Whether orders_with_invoices folds the run's new events into the rows it holds: in a
    plain incremental run. A first build, a full refresh and a rebuild from a date read every
    event of the orders they refresh. -#}
{% macro folds_into_mart() -%}
    {{ return(is_incremental() and rebuild_from() is none) }}
{%- endmacro %}


{#- The `columns` of the events in `relation` (an order's invoices or cancellations, as
    `alias`) that orders_with_invoices refreshes the `changed` orders from. Folding
    (folds_into_mart()): the events of this run's window, and those that earlier runs
    ingested for the `new_orders` (a select of order_id: an invoice may arrive before its
    order); the mart adds what its rows hold. An order already in the mart does not read its
    old events: they lie anywhere in the raw history, and reading them back made the run's
    cost grow with the history (docs/benchmarks.md). Otherwise: all the changed orders'
    events below the horizon. -#}
{% macro order_events_to_refresh_from(
    relation, alias, columns, changed, new_orders, folded_up_to, horizon
) -%}
    {%- if folds_into_mart() %}
    select {{ columns }}
    from {{ relation }} as {{ alias }}
    where {{ events_to_fold(alias, folded_up_to, horizon) }}

    union all

    select {{ columns }}
    from {{ relation }} as {{ alias }}
    where {{ alias }}.ingest_txid < {{ folded_up_to }}
        and {{ alias }}.order_id = any(array({{ new_orders }}))
    {%- else %}
    select {{ columns }}
    from {{ relation }} as {{ alias }}
    where {{ below_horizon_of_changed(alias, 'order_id', horizon, changed) }}
    {%- endif %}
{%- endmacro %}
