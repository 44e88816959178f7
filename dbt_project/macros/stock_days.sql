{#- The stored days product_stock_daily rewrites and the stock it starts from, read from
    `this` by index range scans per changed product: cost follows the days rewritten, not the
    history. Macros: they read the mart itself (docs/adr/intermediate-models.md). On a first
    build both are empty and every product opens at zero. -#}

{#- Stored days on or after each product's first changed day (`first_days`: product_id,
    first_day), with the columns of `new_days`; from the rebuild date on, the new operations
    hold every operation of the day, so those days are not read back. -#}
{% macro stored_days_to_rewrite(first_days, new_days) -%}
    {%- if is_incremental() %}
    select
        {{ first_days }}.product_id,
        current_rows.day,
        current_rows.net_change,
        current_rows.operation_count,
        current_rows.version,
        current_rows.last_operation_at

    from {{ first_days }}

    cross join lateral (
        select *
        from {{ this }} as product_days
        where product_days.product_id = {{ first_days }}.product_id
            and product_days.day >= {{ first_days }}.first_day
            {%- if rebuild_from() is not none %}
            and product_days.day < date '{{ rebuild_from() }}'
            {%- endif %}
    ) as current_rows
    {%- else %}
    select {{ new_days }}.* from {{ new_days }} where false
    {%- endif %}
{%- endmacro %}


{#- Each product's stock, version and last operation at the end of the day before its first
    changed day. -#}
{% macro stock_before_first_day(first_days, new_days) -%}
    {%- if is_incremental() %}
    select
        {{ first_days }}.product_id,
        closing.stock,
        closing.version,
        closing.last_operation_at

    from {{ first_days }}

    cross join lateral (
        select *
        from {{ this }} as product_days
        where product_days.product_id = {{ first_days }}.product_id
            and product_days.day < {{ first_days }}.first_day
        order by product_days.day desc
        limit 1
    ) as closing
    {%- else %}
    select
        {{ new_days }}.product_id,
        0::bigint as stock,
        {{ new_days }}.version,
        {{ new_days }}.last_operation_at
    from {{ new_days }}
    where false
    {%- endif %}
{%- endmacro %}
