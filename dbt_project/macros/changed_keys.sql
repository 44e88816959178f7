{#- The mechanics of an incremental mart's window (docs/adr/incremental-watermark.md), kept
    out of the marts so that each reads as its question. They are macros, not intermediate
    models: dbt compiles an ephemeral model in its own context (`this` and is_incremental()
    name the ephemeral, not the mart), and a view is built apart from the mart, possibly by
    another invocation with another horizon; only a macro sees the mart being built. -#}

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

