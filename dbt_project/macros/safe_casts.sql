{#- Casts of payload fields that cannot fail: the value, or null when it is not one.
    raw.payload is jsonb, so it admits what a stricter contract now refuses (rows ingested
    under an older, looser one): staging keeps such a row out (stg_raw__quarantined lists
    it) instead of failing every build on it. The `order_id` casts stay plain: raw's index
    on that very cast refuses a non-UUID at ingest (ingest/schema.sql), and the marts'
    lookups by order use the index. -#}

{% macro uuid_or_null(text) -%}
    case
        when {{ text }} ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
            then ({{ text }})::uuid
    end
{%- endmacro %}

{#- A whole number within bigint: JSON Schema counts 5.0 as an integer, so it is one. -#}
{% macro bigint_or_null(text) -%}
    case
        when {{ text }} ~ '^-?[0-9]{1,18}(\.0+)?$' then ({{ text }})::numeric::bigint
    end
{%- endmacro %}
