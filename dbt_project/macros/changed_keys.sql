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



{#- The order.created facts (order_id, user_id, customer_name, occurred_at) of the orders
    orders_with_invoices refreshes. In a plain incremental run a new order comes from its
    event and an order already in the mart from its row there, which the run rewrites
    anyway: an old order's event lies anywhere in the raw history, and reading it back made
    the run's cost grow with the history (docs/benchmarks.md). A first build or a rebuild
    from a date reads the events. -#}
{% macro orders_to_refresh(created_events, changed, folded_up_to, horizon) -%}
    {%- if is_incremental() and rebuild_from() is none %}
    select created.order_id, created.user_id, created.customer_name, created.occurred_at
    from {{ created_events }} as created
    where {{ events_to_fold('created', folded_up_to, horizon) }}

    union all

    select known.order_id, known.user_id, known.customer_name, known.created_at
    from {{ this }} as known
    where known.order_id = any(array({{ changed }}))
    {%- else %}
    select created.order_id, created.user_id, created.customer_name, created.occurred_at
    from {{ created_events }} as created
    where {{ below_horizon_of_changed('created', 'order_id', horizon, changed) }}
    {%- endif %}
{%- endmacro %}
