{#- Marts that grow with time, partitioned by month of a date column, so that a read of a
    date range touches only its months (docs/adr/partitioned-history.md). A model asks for it
    with `meta: {partition_by_month: <date column>}` and an enforced contract; dbt-postgres
    has no partitioning of its own, so these two documented overrides of its macros add it:
    the table is created partitioned (first build and full refresh alike), and the months an
    incremental run brings get their partitions before its rows are inserted. -#}

{% macro month_partition_column() -%}
    {%- do return((config.get('meta') or {}).get('partition_by_month')) -%}
{%- endmacro %}

{#- One partition per month of `column` found in `rows`, unless `relation` has one for it
    already. Named `<table>_<yyyymm>`; a full refresh builds beside the old table, whose
    partitions hold those names until it is dropped, so then the new table's oid follows. -#}
{% macro create_month_partitions(relation, rows, column) -%}
do $partitions$
declare
    parent constant regclass := format('%I.%I', {{ dbt.string_literal(relation.schema) }},
        {{ dbt.string_literal(relation.identifier) }})::regclass;
    month date;
    bound text;
    name text;
begin
    -- A table built before it was partitioned stays whole until its next full refresh.
    if (select relkind from pg_class where oid = parent) <> 'p' then
        return;
    end if;
    for month in select distinct date_trunc('month', {{ column }})::date from {{ rows }} loop
        bound := format('FOR VALUES FROM (%L) TO (%L)', month, (month + interval '1 month')::date);
        continue when exists (
            select from pg_inherits as i join pg_class as c on c.oid = i.inhrelid
            where i.inhparent = parent and pg_get_expr(c.relpartbound, c.oid) = bound
        );
        name := {{ dbt.string_literal(this.identifier) }} || '_' || to_char(month, 'YYYYMM');
        if to_regclass(format('%I.%I', {{ dbt.string_literal(relation.schema) }}, name)) is not null then
            name := name || '_' || parent::oid;
        end if;
        execute format('create table %I.%I partition of %s %s',
            {{ dbt.string_literal(relation.schema) }}, name, parent, bound);
    end loop;
end
$partitions$;
{%- endmacro %}

{% macro postgres__get_create_table_as_sql(temporary, relation, sql) -%}
    {%- set column = month_partition_column() -%}
    {%- if temporary or not column -%}
        {{ return(default__get_create_table_as_sql(temporary, relation, sql)) }}
    {%- endif -%}
    {%- if not config.get('contract').enforced -%}
        {{ exceptions.raise_compiler_error(
            "partition_by_month needs an enforced contract: the columns come from it") }}
    {%- endif -%}
    {%- set rows = relation.identifier ~ '__partition_rows' -%}
    {{ get_assert_columns_equivalent(sql) }}
    create table {{ relation }} {{ get_table_columns_and_constraints() }}
        partition by range ({{ column }});
    create temporary table {{ rows }} on commit drop as ({{ sql }});
    {{ create_month_partitions(relation, rows, column) }}
    insert into {{ relation }} ({{ adapter.dispatch('get_column_names', 'dbt')() }})
    select {{ adapter.dispatch('get_column_names', 'dbt')() }} from {{ rows }};
{%- endmacro %}

{% macro postgres__get_incremental_delete_insert_sql(arg_dict) -%}
    {%- set column = month_partition_column() -%}
    {%- if column %}
    {{ create_month_partitions(arg_dict['target_relation'], arg_dict['temp_relation'], column) }}
    {%- endif %}
    {{ default__get_incremental_delete_insert_sql(arg_dict) }}
{%- endmacro %}
