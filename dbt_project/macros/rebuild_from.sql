{#- A rebuild from a date (`--vars '{rebuild_from: 2026-03-01}'`, the `from_date` of the
    rebuild_views DAG): besides the rows ingested since the last run, an incremental run
    recomputes from the raw log every mart row that depends on an event that occurred on or
    after that day (UTC). The rows it rewrites get this run's horizon, so publishing copies
    them. Unset or empty: an ordinary incremental run. -#}

{#- The validated date as 'YYYY-MM-DD', or none when unset. A value that is not a date fails
    the run: an operator's typo must not pass for "no rebuild". -#}
{% macro rebuild_from() -%}
    {%- set value = var('rebuild_from', none) -%}
    {%- if value is none or (value | string | trim) == '' -%}
        {{ return(none) }}
    {%- endif -%}
    {#- YAML reads an unquoted 2026-03-01 as a date: its string form is the same. -#}
    {%- set text = value | string | trim -%}
    {%- set parts = modules.re.match('^([0-9]{4})-([0-9]{2})-([0-9]{2})$', text) -%}
    {%- set valid = parts is not none -%}
    {%- if valid -%}
        {%- set year, month, day = parts.group(1) | int, parts.group(2) | int, parts.group(3) | int -%}
        {%- set valid = year >= 1 and 1 <= month <= 12 and 1 <= day <= 31 -%}
    {%- endif -%}
    {%- if valid -%}
        {#- Day 31 of a 30-day month lands in the next month (2026-02-30 is not a date). -#}
        {%- set first = modules.datetime.date(year, month, 1) -%}
        {%- set valid = (first + modules.datetime.timedelta(days=day - 1)).month == month -%}
    {%- endif -%}
    {%- if not valid -%}
        {{ exceptions.raise_compiler_error(
            "var rebuild_from must be a UTC date YYYY-MM-DD (or empty for no rebuild), got '"
            ~ text ~ "'"
        ) }}
    {%- endif -%}
    {{ return(text) }}
{%- endmacro %}


{#- `<alias>.occurred_at` on or after the rebuild date; call only when rebuild_from() is set. -#}
{% macro occurred_since_rebuild_from(alias) -%}
    {{ alias }}.occurred_at >= timestamptz '{{ rebuild_from() }} 00:00:00+00'
{%- endmacro %}


{#- The raw rows an incremental run folds: those ingested in its window [folded_up_to,
    horizon) and, when rebuilding from a date, every row below the horizon that occurred on
    or after it. -#}
{% macro events_to_fold(alias, folded_up_to, horizon) -%}
    {{ alias }}.ingest_txid < {{ horizon }}
    {%- if rebuild_from() is none %}
        and {{ alias }}.ingest_txid >= {{ folded_up_to }}
    {%- else %}
        and ({{ alias }}.ingest_txid >= {{ folded_up_to }}
            or {{ occurred_since_rebuild_from(alias) }})
    {%- endif %}
{%- endmacro %}
