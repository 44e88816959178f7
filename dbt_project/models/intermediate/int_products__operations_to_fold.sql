-- The stock operations that products folds in this run: those ingested in its window and,
-- rebuilding from a date (var rebuild_from), every operation below the horizon of a product
-- with one on or after it. Such a product is `refolded`: folded again from its whole log,
-- since adding its old operations to its stock would count them twice.
{%- set horizon = watermark_horizon() %}
{%- set folded_up_to = mart_folded_up_to('products') %}
{%- set refolding = rebuild_from() is not none and mart_is_incremental('products') %}

with

{% if refolding %}
refolded_products as (
    {{ keys_rebuilt_from('product_id', ref('stg_stock__updated'), horizon) }}
),
{% endif %}

operations as (

    select
        operations.product_id,
        operations.signed_amount,
        operations.version,
        operations.occurred_at,
        {%- if refolding %}
        operations.product_id = any(array(
            select refolded_products.product_id from refolded_products
        )) as refolded
        {%- else %}
        false as refolded
        {%- endif %}

    from {{ ref('stg_stock__updated') }} as operations

    where operations.ingest_txid < {{ horizon }}
        and (
            operations.ingest_txid >= {{ folded_up_to }}
            {%- if refolding %}
            or operations.product_id = any(array(
                select refolded_products.product_id from refolded_products
            ))
            {%- endif %}
        )

)

select * from operations
