{#- Fails (or, with severity warn, warns) on every row of the model: for models that list
    what needs a person's look, such as stg_raw__quarantined. -#}
{% test is_empty(model) %}

select * from {{ model }}

{% endtest %}
