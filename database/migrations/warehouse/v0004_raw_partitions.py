"""Raw tables partitioned by month of ingest, and ``raw.event_ids``, the one list of ingested
event ids (docs/adr/raw-partitions.md).

A raw table made before this revision becomes the first partition of its partitioned table,
``raw.<table>_history`` (from the beginning up to the start of the month after this one), as it
is: renamed and attached, no row copied. Its event ids are copied to ``raw.event_ids`` (narrow
rows), which keeps ``event_id`` unique across every partition, archived ones included.
``raw.create_partitions(months_ahead)`` makes the months to come; the revision calls it, and so
does every ingest run (``ingest.raw_partitions``).
"""

from __future__ import annotations

from alembic import op

from config.database_settings import DbRole
from contracts.catalog import raw_table
from database.migrations.ddl import (
    create_raw_table,
    identifier,
    index_occurred_at,
    index_payload_uuid,
    owned_by,
)
from database.warehouse import RAW_PARTITION_MONTHS_AHEAD

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# The event topics of 2026-12-06 (the baseline's); the revision that adds a topic makes its
# table partitioned from the start (``create_raw_table``).
TOPICS = ("order.created", "order.cancelled", "invoice.created", "stock.updated")
ORDER_TOPICS = ("order.created", "order.cancelled", "invoice.created")

EVENT_IDS = """
    create table if not exists raw.event_ids (
        event_id    uuid primary key,
        raw_table   text not null,
        -- where the row is: the partition by ingested_at, the row by the ingest_txid index
        ingested_at timestamptz not null default now(),
        ingest_txid bigint not null default pg_current_xact_id()::text::bigint
    )
"""

# Partitions' indexes get the name of the parent's index and the partition's suffix
# (``order_created_ingest_txid_p202701``): the same names however a partition was made.
NAME_PARTITION_INDEXES = """
    create or replace function raw.name_partition_indexes(parent regclass) returns void
    language plpgsql set search_path = pg_catalog as $$
    declare
        found record;
    begin
        for found in
            select part_index.relname as have,
                   left(parent_index.relname || '_'
                        || substr(part.relname, length(parent_rel.relname) + 2), 63) as wanted
            from pg_inherits as parts
            join pg_class as parent_rel on parent_rel.oid = parts.inhparent
            join pg_class as part on part.oid = parts.inhrelid
            join pg_index as idx on idx.indrelid = part.oid
            join pg_class as part_index on part_index.oid = idx.indexrelid
            join pg_inherits as index_parents on index_parents.inhrelid = part_index.oid
            join pg_class as parent_index on parent_index.oid = index_parents.inhparent
            where parts.inhparent = parent
        loop
            if found.have <> found.wanted then
                execute format('alter index raw.%I rename to %I', found.have, found.wanted);
            end if;
        end loop;
    end
    $$
"""

# Every partitioned table of raw gets a partition for each month up to ``months_ahead``
# months after this one; a table with none starts with ``<table>_history`` (from the
# beginning). A partition is made as a table of its own, then attached: attaching locks the
# partitioned table in SHARE UPDATE EXCLUSIVE mode, which readers and writers pass.
CREATE_PARTITIONS = """
    create or replace function raw.create_partitions(months_ahead int) returns setof text
    language plpgsql set timezone = 'UTC' set search_path = pg_catalog as $$
    declare
        parent record;
        upper timestamptz;
        through timestamptz := date_trunc('month', now())
                               + make_interval(months => months_ahead + 1);
        part text;
    begin
        if months_ahead is null or months_ahead < 0 then
            raise exception 'months_ahead must be 0 or more, not %', months_ahead;
        end if;
        for parent in
            select c.oid, c.relname from pg_class as c
            join pg_namespace as n on n.oid = c.relnamespace
            where n.nspname = 'raw' and c.relkind = 'p' and not c.relispartition
            order by c.relname
        loop
            select max(substring(pg_get_expr(c.relpartbound, c.oid)
                                 from $re$TO \\('([^']+)'\\)$re$)::timestamptz)
            into upper
            from pg_inherits as i join pg_class as c on c.oid = i.inhrelid
            where i.inhparent = parent.oid;
            if upper is null then
                upper := date_trunc('month', now()) + interval '1 month';
                part := parent.relname || '_history';
                execute format('create table raw.%I (like raw.%I including defaults)',
                               part, parent.relname);
                execute format('alter table raw.%I attach partition raw.%I'
                               ' for values from (minvalue) to (%L)',
                               parent.relname, part, upper);
                return next part;
            end if;
            while upper < through loop
                part := parent.relname || '_p' || to_char(upper, 'YYYYMM');
                execute format('create table raw.%I (like raw.%I including defaults)',
                               part, parent.relname);
                execute format('alter table raw.%I attach partition raw.%I'
                               ' for values from (%L) to (%L)',
                               parent.relname, part, upper, upper + interval '1 month');
                return next part;
                upper := upper + interval '1 month';
            end loop;
            perform raw.name_partition_indexes(parent.oid);
        end loop;
    end
    $$
"""

# What `cqrsw raw archive / restore / release` (pipeline/raw_archive.py) do to partitions.
ARCHIVE_FUNCTIONS = (
    """
    create or replace function raw.drop_partition(part text) returns void
    language plpgsql set search_path = pg_catalog as $$
    declare
        parent text;
    begin
        select p.relname into parent
        from pg_inherits as i join pg_class as c on c.oid = i.inhrelid
        join pg_class as p on p.oid = i.inhparent
        join pg_namespace as n on n.oid = c.relnamespace
        where n.nspname = 'raw' and c.relname = part;
        if parent is null then
            raise exception 'raw.% is not a partition of a raw table', part;
        end if;
        execute format('alter table raw.%I detach partition raw.%I', parent, part);
        execute format('drop table raw.%I', part);
    end
    $$
    """,
    """
    create or replace function raw.create_partition_table(parent text, part text) returns void
    language plpgsql set search_path = pg_catalog as $$
    begin
        execute format('create table raw.%I (like raw.%I including defaults)', part, parent);
    end
    $$
    """,
    """
    create or replace function raw.attach_partition(
        parent text, part text, lower timestamptz, upper timestamptz
    ) returns void
    language plpgsql set search_path = pg_catalog as $$
    begin
        execute format('alter table raw.%I attach partition raw.%I for values from (%s) to (%L)',
                       parent, part, coalesce(quote_literal(lower), 'minvalue'), upper);
        perform raw.name_partition_indexes(format('raw.%I', parent)::regclass);
    end
    $$
    """,
)


def upgrade() -> None:
    with owned_by(op, DbRole.INGEST):
        op.execute(EVENT_IDS)
        op.execute(NAME_PARTITION_INDEXES)
        for function in ARCHIVE_FUNCTIONS:
            op.execute(function)
        for topic in TOPICS:
            name = identifier(raw_table(topic))
            set_aside(name)
            create_raw_table(op, topic)
            index_occurred_at(op, topic)
            if topic in ORDER_TOPICS:
                index_payload_uuid(op, topic, "order_id")
            attach_history(name)
        # After the tables: create_raw_table makes partitions itself once this exists.
        op.execute(CREATE_PARTITIONS)
        op.execute(f"select raw.create_partitions({int(RAW_PARTITION_MONTHS_AHEAD)})")
    with owned_by(op, DbRole.DBT):
        # `cqrsw raw archive` (as the ingest role) archives only what a green build folded.
        ingest = identifier(DbRole.INGEST.login)
        op.execute(f"grant usage on schema marts to {ingest}")
        op.execute(f"grant select on marts.checked_windows to {ingest}")


def set_aside(name: str) -> None:
    """A plain raw table: its ids into raw.event_ids, then out of the way as ``<name>_history``.

    Its primary key goes (``raw.event_ids`` does that work now); its indexes are renamed so
    the partitioned table can take their names, and are attached to its indexes later."""
    # ``name`` is a checked identifier (ddl.identifier): DDL takes no parameters.
    op.execute(f"""
        do $$
        declare
            index_name text;
        begin
            if (select relkind from pg_class where oid = to_regclass('raw.{name}'))
               is distinct from 'r' then
                return;
            end if;
            insert into raw.event_ids (event_id, raw_table, ingested_at, ingest_txid)
            select event_id, '{name}', ingested_at, ingest_txid from raw.{name}
            on conflict (event_id) do nothing;
            execute (
                select format('alter table raw.{name} drop constraint %I', conname)
                from pg_constraint
                where conrelid = 'raw.{name}'::regclass and contype = 'p'
            );
            for index_name in
                select c.relname from pg_index as i join pg_class as c on c.oid = i.indexrelid
                where i.indrelid = 'raw.{name}'::regclass
            loop
                execute format('alter index raw.%I rename to %I',
                               index_name, left('set_aside_' || index_name, 63));
            end loop;
            alter table raw.{name} rename to {name}_history;
        end
        $$
    """)  # noqa: S608


def attach_history(name: str) -> None:
    """Attach the table ``set_aside`` made, up to the month after its newest row (or this one)."""
    op.execute(f"""
        do $$
        declare
            upper timestamptz;
        begin
            if (select not relispartition from pg_class
                where oid = to_regclass('raw.{name}_history')) is not true then
                return;
            end if;
            -- months of UTC, as raw.create_partitions counts them
            select (date_trunc('month', greatest(now(), max(ingested_at)), 'UTC')
                    at time zone 'UTC' + interval '1 month') at time zone 'UTC'
            into upper from raw.{name}_history;
            execute format('alter table raw.{name} attach partition raw.{name}_history'
                           ' for values from (minvalue) to (%L)', upper);
        end
        $$
    """)  # noqa: S608


def downgrade() -> None:
    raise NotImplementedError("forward only: restore a backup to go back")
