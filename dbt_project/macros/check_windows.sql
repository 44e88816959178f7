{#- Checks that cost what is new (docs/adr/check-windows.md).

    In the pipeline a data test looks only at the rows since the last build whose tests all
    passed: dbt_project.yml binds each test's `where` to marts.checked_windows. Once a build
    of the whole project has run every test and none failed, every raw row below this
    invocation's horizon has been checked (it was committed before the tests read), so the
    window moves up to the horizon. A failed, skipped or partial build (`--select`) leaves it
    where it was: the next build checks those rows again. -#}
{% macro record_checked_window(results) -%}
    {%- set blocking = ['error', 'fail', 'skipped'] -%}
    {%- set failed = results | selectattr('status', 'in', blocking) | list -%}
    {%- set tested = results | selectattr('node.resource_type', 'equalto', 'test') | list -%}
    {%- if execute
        and flags.WHICH == 'build'
        and var('checks', 'new') != 'all'
        and not invocation_args_dict.get('select')
        and tested | length > 0
        and failed | length == 0 -%}
    insert into {{ target.schema }}.checked_windows (check_name, checked_below)
    select 'dbt', horizon from {{ target.schema }}.dbt_run_horizons
    where invocation_id = '{{ invocation_id }}'
    on conflict (check_name) do update
        set checked_below = greatest(checked_windows.checked_below, excluded.checked_below),
            checked_at = now()
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}


{#- The rows a data test looks at: its own `where` config, and in the pipeline only those at or
    above the last passing build's bound, by the column `check_window_columns` names for the
    tested relation. dbt's documented way to give `where` logic of its own: this macro
    replaces dbt's default of the same name.

    The bound goes into the test's query as a number, read when the test compiles (in the
    same invocation, before the window can move): as a subquery, PostgreSQL plans for a third
    of the table and reads a 10,000,000-event history whole to join a few thousand new rows
    (docs/benchmarks.md, whole pass). -#}
{% macro get_where_subquery(relation) -%}
    {%- set conditions = [] -%}
    {%- if config.get('where') -%}
        {%- do conditions.append('(' ~ config.get('where') ~ ')') -%}
    {%- endif -%}
    {%- set column = check_window_column(relation) -%}
    {%- if column -%}
        {%- do conditions.append(check_window_condition(column)) -%}
    {%- endif -%}
    {%- if conditions -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ conditions | join(' and ') }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- endif -%}
    {%- do return(relation) -%}
{%- endmacro %}


{#- The rows of the check window by `column` (prefixed as given), as a condition with the
    bound as a number. By a column that holds the horizon of the build that wrote the row
    (var `build_horizon_columns`: the marts' changed_at_watermark), the rows at the bound
    were written and tested by the build that recorded it: with `>=` every build would test
    the previous build's rows again, and the first after a full build every row of the
    marts (docs/benchmarks.md, whole pass). -#}
{% macro check_window_condition(column, alias=none) -%}
    {%- set operator = '>' if column in var('build_horizon_columns') else '>=' -%}
    {%- set qualified = alias ~ '.' ~ column if alias else column -%}
    {%- do return(qualified ~ ' ' ~ operator ~ ' ' ~ checked_window_bound()) -%}
{%- endmacro %}


{#- Where the data tests' window starts: every row below it passed a whole build's tests. -#}
{% macro checked_window_bound() -%}
    {%- if not execute -%}
        {%- do return(0) -%}
    {%- endif -%}
    {%- set found = run_query(
        "select coalesce(max(checked_below), 0) from marts.checked_windows"
        ~ " where check_name = 'dbt'"
    ) -%}
    {%- do return(found.columns[0].values()[0] | int) -%}
{%- endmacro %}


{% macro check_window_column(relation) -%}
    {#- the audit's run, or a test of whole histories (tagged `audit`) wherever it runs -#}
    {%- if var('checks', 'new') == 'all' or 'audit' in config.get('tags', []) -%}
        {%- do return(none) -%}
    {%- endif -%}
    {%- set columns = var('check_window_columns') -%}
    {%- set identifier = relation.identifier | string -%}
    {%- if identifier.startswith('__dbt__cte__') -%}
        {#- an ephemeral model, compiled in as a CTE: they are all intermediate -#}
        {%- do return(columns.get('intermediate')) -%}
    {%- endif -%}
    {%- set qualified = relation.schema ~ '.' ~ identifier -%}
    {%- if qualified in columns -%}
        {%- do return(columns[qualified]) -%}
    {%- endif -%}
    {%- do return(columns.get(relation.schema)) -%}
{%- endmacro %}
