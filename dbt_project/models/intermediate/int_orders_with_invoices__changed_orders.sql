-- The orders that orders_with_invoices refreshes in an incremental run: those with an event of
-- any kind in the run's window (ingested since the mart last changed, below this run's
-- horizon) and, rebuilding from a date (var rebuild_from), those with an event on or after it.
{%- set horizon = watermark_horizon() %}
{%- set folded_up_to = mart_folded_up_to('orders_with_invoices') %}

{#- The staging models of every event type the catalogue folds into the mart. -#}
{%- set staged = [] %}
{%- for model in staging_models_feeding('orders_with_invoices') %}
{%- do staged.append(ref(model)) %}
{%- endfor %}

{{ keys_with_events_to_fold('order_id', staged, folded_up_to, horizon) }}
