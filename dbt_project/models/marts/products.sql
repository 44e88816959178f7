-- Current stock folded incrementally: the previous row of a product plus the signed sum of
-- its operations ingested since. A sum does not care in which order operations arrive.
-- Which operations, rebuilding from a date too: int_products__operations_to_fold.
{%- set horizon = watermark_horizon() %}

with

folded as (

    select
        operations.product_id,
        sum(operations.signed_amount)::bigint as stock_change,
        count(*) as operation_count,
        max(operations.version) as version,
        max(operations.occurred_at) as last_operation_at,
        bool_or(operations.refolded) as refolded

    from {{ ref('int_products__operations_to_fold') }} as operations

    group by operations.product_id

),

previous as (

    {% if is_incremental() %}
    select
        current_rows.product_id,
        current_rows.stock,
        current_rows.operation_count,
        current_rows.version,
        current_rows.last_operation_at

    from {{ this }} as current_rows

    -- a refolded product starts from nothing: its whole log is in `folded`
    where current_rows.product_id = any(array(
        select folded.product_id from folded where not folded.refolded
    ))
    {% else %}
    -- A first build: every product starts from nothing.
    select folded.product_id, 0::bigint as stock, 0::bigint as operation_count,
        folded.version, folded.last_operation_at
    from folded
    where false
    {% endif %}

),

final as (

    select
        folded.product_id,
        coalesce(previous.stock, 0) + folded.stock_change as stock,
        greatest(previous.version, folded.version) as version,
        greatest(previous.last_operation_at, folded.last_operation_at) as last_operation_at,
        coalesce(previous.operation_count, 0) + folded.operation_count as operation_count,
        {{ horizon }}::bigint as changed_at_watermark

    from folded

    left join previous
        on folded.product_id = previous.product_id

)

select * from final
