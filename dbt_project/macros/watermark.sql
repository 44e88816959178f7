{#- The incremental watermark (docs/adr/incremental-watermark.md).

    Every raw row carries ingest_txid, the id of the transaction that wrote it. At the start
    of a run we take a horizon: every transaction of this database with an id below it has
    finished, so its rows are all visible from now on. A run folds the rows with
    last horizon <= ingest_txid < this horizon; rows of transactions still open (or that
    commit during the run) wait for the next run. Nothing is skipped however the writers
    overlap, nothing is folded twice. -#}

{% macro horizon_sql() -%}
    {#- snapshot xmax bounds every transaction id the snapshot could miss; running
        transactions below it are listed, and only those connected to this database can
        write raw rows. Ids are 64-bit (xid8), so they never wrap. -#}
    select least(
        pg_snapshot_xmax(snap.s),
        (
            select min(running.xid)
            from pg_snapshot_xip(snap.s) as running (xid)
            where xid(running.xid) in (
                select activity.backend_xid
                from pg_stat_activity as activity
                where activity.datname = current_database()
                    and activity.backend_xid is not null
            )
        )
    )::text::bigint
    from (select pg_current_snapshot() as s) as snap
{%- endmacro %}


{#- on-run-start: one horizon per dbt invocation, shared by every model it builds, so the
    marts of one run describe the same moment. The table is the warehouse migrations'
    (database/migrations/warehouse/). -#}
{% macro record_watermark_horizon() -%}
    insert into {{ target.schema }}.dbt_run_horizons (invocation_id, horizon)
    select '{{ invocation_id }}', ({{ horizon_sql() }})
    on conflict (invocation_id) do nothing;
    delete from {{ target.schema }}.dbt_run_horizons where taken_at < now() - interval '30 days'
{%- endmacro %}


{#- This invocation's horizon as a literal (the compiled SQL shows the window it folded).
    Commands that run no hooks (compile, docs generate) only need valid SQL: a horizon
    taken now. -#}
{% macro watermark_horizon() -%}
    {%- if not execute -%}
        {{ return('0') }}
    {%- endif -%}
    {%- set table = adapter.get_relation(
        database=target.database, schema=target.schema, identifier='dbt_run_horizons'
    ) -%}
    {%- set recorded = none -%}
    {%- if table is not none -%}
        {%- set found = run_query(
            "select horizon from " ~ table ~ " where invocation_id = '" ~ invocation_id ~ "'"
        ) -%}
        {%- if found.rows | length == 1 -%}
            {%- set recorded = found.rows[0][0] -%}
        {%- endif -%}
    {%- endif -%}
    {%- if recorded is none -%}
        {%- set recorded = run_query(horizon_sql()).rows[0][0] -%}
    {%- endif -%}
    {{ return(recorded | int | string) }}
{%- endmacro %}


{#- Lower end of this run's window for an incremental mart: the horizon of the last run
    that changed it, or 0 when the mart is built from scratch. -#}
{% macro watermark_folded_up_to() -%}
    {%- if is_incremental() -%}
        {{ return('(select coalesce(max(changed_at_watermark), 0) from ' ~ this ~ ')') }}
    {%- endif -%}
    {{ return('0') }}
{%- endmacro %}


{#- For the intermediate models that prepare one mart's window (models/intermediate/). They
    are ephemeral, compiled into the mart's query with this invocation's horizon, but their
    `this` and is_incremental() name themselves: they read the mart's watermark by name
    (docs/adr/intermediate-models.md). Same rules as is_incremental() and
    watermark_folded_up_to(): a first build or a full refresh folds everything. -#}
{% macro mart_relation(mart) -%}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {#- dbt_project.yml puts every mart in the `marts` schema. -#}
    {{ return(adapter.get_relation(database=target.database, schema='marts', identifier=mart)) }}
{%- endmacro %}


{% macro mart_is_incremental(mart) -%}
    {{ return(mart_relation(mart) is not none and not should_full_refresh()) }}
{%- endmacro %}


{#- Lower end of this run's window for `mart`, as watermark_folded_up_to() gives it there. -#}
{% macro mart_folded_up_to(mart) -%}
    {%- if mart_is_incremental(mart) -%}
        {{ return('(select coalesce(max(changed_at_watermark), 0) from ' ~ mart_relation(mart) ~ ')') }}
    {%- endif -%}
    {{ return('0') }}
{%- endmacro %}
