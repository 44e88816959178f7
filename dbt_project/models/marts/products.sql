-- Current stock folded incrementally: the previous row of a product plus the signed sum of
-- its operations ingested since. A sum does not care in which order operations arrive.
-- Rebuilding from a date (var rebuild_from): a product with an operation on or after it is
-- folded again from its whole log, since adding its old operations to its stock would count
-- them twice.
{%- set horizon = watermark_horizon() %}
{%- set folded_up_to = watermark_folded_up_to() %}
{%- set rebuilding = rebuild_from() is not none and is_incremental() %}

with

{% if rebuilding %}
rebuilt_products as (
    {{ keys_rebuilt_from('product_id', ref('stg_stock__updated'), horizon) }}
),
{% endif %}

new_operations as (

    select operations.*
    from {{ ref('stg_stock__updated') }} as operations
    where operations.ingest_txid < {{ horizon }}
        and (
            operations.ingest_txid >= {{ folded_up_to }}
            {%- if rebuilding %}
            or operations.product_id = any(array(
                select rebuilt_products.product_id from rebuilt_products
            ))
            {%- endif %}
        )

),

folded as (

    select
        new_operations.product_id,
        sum(new_operations.signed_amount)::bigint as stock_change,
        count(*) as operation_count,
        max(new_operations.version) as version,
        max(new_operations.occurred_at) as last_operation_at

    from new_operations

    group by new_operations.product_id

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

    where current_rows.product_id = any(array(select folded.product_id from folded))
    {%- if rebuilding %}
        -- a rebuilt product starts from nothing: its whole log is in `folded`
        and current_rows.product_id <> all(array(
            select rebuilt_products.product_id from rebuilt_products
        ))
    {%- endif %}
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
