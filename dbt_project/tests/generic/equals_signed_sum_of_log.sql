{#- Fails on every row whose stock differs from the signed sum of its operations in the log:
    all of them, or with `day_column` those up to the end of that day (UTC), one model row
    per day with operations. Only log rows the model has folded count (ingest_txid below its
    latest watermark); keys or days the model lacks although the log has them fail too. -#}
{% test equals_signed_sum_of_log(model, column_name, log, key, day_column=none) %}

with

folded_up_to as (

    select coalesce(max(changed_at_watermark), 0) as horizon

    from {{ model }}

),

log_rows as (

    select
        log.{{ key }} as log_key,
        log.signed_amount,
        (log.occurred_at at time zone 'UTC')::date as log_day

    from {{ log }} as log

    where log.ingest_txid < (select folded_up_to.horizon from folded_up_to)

),

{% if day_column is none %}

expected as (

    select
        log_rows.log_key,
        sum(log_rows.signed_amount) as expected_stock

    from log_rows

    group by log_rows.log_key

),

compared as (

    select
        coalesce(model_rows.{{ key }}, expected.log_key) as checked_key,
        model_rows.{{ column_name }} as actual_stock,
        expected.expected_stock

    from (select * from {{ model }}) as model_rows  {# the model may be a `where` subquery #}

    full outer join expected
        on model_rows.{{ key }} = expected.log_key

)

{% else %}

log_days as (

    select
        log_rows.log_key,
        log_rows.log_day,
        sum(log_rows.signed_amount) as net_change

    from log_rows

    group by log_rows.log_key, log_rows.log_day

),

expected as (

    select
        log_days.log_key,
        log_days.log_day,
        sum(log_days.net_change) over (
            partition by log_days.log_key
            order by log_days.log_day
        ) as expected_stock

    from log_days

),

compared as (

    select
        coalesce(model_rows.{{ key }}, expected.log_key) as checked_key,
        coalesce(model_rows.{{ day_column }}, expected.log_day) as checked_day,
        model_rows.{{ column_name }} as actual_stock,
        expected.expected_stock

    from (select * from {{ model }}) as model_rows  {# the model may be a `where` subquery #}

    full outer join expected
        on model_rows.{{ key }} = expected.log_key
        and model_rows.{{ day_column }} = expected.log_day

)

{% endif %}

select *

from compared

where actual_stock is distinct from expected_stock

{% endtest %}
