{#- Fails (or, with severity warn, warns) on every raw row that staging leaves out, as
    stg_raw__quarantined lists them; in the pipeline only those in the check window
    (macros/check_windows.sql), bounded on the raw and on the staged side alike
    (macros/quarantine.sql). The model is stg_raw__quarantined, which names the check;
    the rows come from the macro both share. -#}
{% test no_rows_left_out_by_staging(model) %}

{{ rows_left_out_by_staging(in_check_window=true) }}

{% endtest %}
