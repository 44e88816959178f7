"""The warehouse as of 2026-12-06: its schemas, raw (events, offsets, dead letters), ops, the
publications of serving, and the watermark horizons of dbt runs.

Idempotent, so it also adopts a warehouse that an earlier version of the project made with
DDL files at start-up. Each object is created by the role that owns its schema.
"""

from __future__ import annotations

from alembic import op

from config.database_settings import DbRole
from contracts.catalog import raw_table
from database.migrations.ddl import (
    create_raw_table,
    create_schema,
    index_payload_uuid,
    owned_by,
)

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# The event topics of 2026-12-06; a topic added later gets a revision of its own.
TOPICS = ("order.created", "order.cancelled", "invoice.created", "stock.updated")
ORDER_TOPICS = ("order.created", "order.cancelled", "invoice.created")
# Who owns each schema (database.roles.SCHEMA_OWNERS says the same for today's layout).
SCHEMAS = {
    "raw": DbRole.INGEST,
    "staging": DbRole.DBT,
    "intermediate": DbRole.DBT,
    "marts": DbRole.DBT,
    "serving": DbRole.PUBLISHER,
    "ops": DbRole.PUBLISHER,
}


def upgrade() -> None:
    for schema, owner in SCHEMAS.items():
        create_schema(op, schema, owner)
    with owned_by(op, DbRole.INGEST):
        raw()
    with owned_by(op, DbRole.PUBLISHER):
        ops()
        publications()
    with owned_by(op, DbRole.DBT):
        run_horizons()


def raw() -> None:
    for topic in TOPICS:
        create_raw_table(op, topic)
        # A table made before the watermark column existed gets it here.
        op.execute(
            f"alter table raw.{raw_table(topic)} add column if not exists ingest_txid"
            " bigint not null default pg_current_xact_id()::text::bigint"
        )
    # orders_with_invoices re-reads every event of an order it refreshes, by order id.
    for topic in ORDER_TOPICS:
        index_payload_uuid(op, topic, "order_id")
    # Next offset to read per topic partition; written in the same transaction as the rows.
    op.execute("""
        create table if not exists raw.ingest_offsets (
            topic       text not null,
            partition   int not null,
            next_offset bigint not null check (next_offset >= 0),
            updated_at  timestamptz not null default now(),
            primary key (topic, partition)
        )
    """)
    # sha256 of the message at next_offset - 1: tells a broker that lost its log and refilled
    # it (same offsets, other messages) from the log we read.
    op.execute("alter table raw.ingest_offsets add column if not exists last_message_sha256 text")
    # The broker's topic id (Kafka >= 2.8, Tansu): new when a topic is recreated or a
    # memory-only broker restarts, so a refilled log is noticed whatever order it is in.
    op.execute("alter table raw.ingest_offsets add column if not exists topic_id uuid")
    # Every ingest transaction gets a batch id (to trace a row back to the run that wrote it).
    op.execute("create sequence if not exists raw.ingest_batch_seq")
    op.execute("""
        create table if not exists raw.dead_letter_events (
            id              bigserial primary key,
            kafka_topic     text not null,
            kafka_partition int not null,
            kafka_offset    bigint not null,
            message_key     bytea,
            message_value   bytea,
            message_sha256  text not null,
            reason          text not null,
            ingest_batch_id bigint not null,
            ingested_at     timestamptz not null default now(),
            -- The same bad message read twice (after a broker reset) is kept once; another
            -- message at a reused offset is kept as well.
            unique (kafka_topic, kafka_partition, kafka_offset, message_sha256)
        )
    """)
    # Dead letters that left the table: replayed into raw after a fix, or discarded by an
    # operator. Kept as they were, with what happened to them, when and why.
    op.execute("""
        create table if not exists raw.dead_letter_archive (
            id              bigint primary key,  -- the dead letter's id
            kafka_topic     text not null,
            kafka_partition int not null,
            kafka_offset    bigint not null,
            message_key     bytea,
            message_value   bytea,
            message_sha256  text not null,
            reason          text not null,
            ingested_at     timestamptz not null,
            outcome         text not null check (outcome in ('replayed', 'discarded')),
            outcome_at      timestamptz not null default now(),
            outcome_by      text not null default current_user,
            note            text
        )
    """)


def ops() -> None:
    # One row per published view per run: how many rows, and how fresh the events behind them.
    op.execute("""
        create table if not exists ops.view_publications (
            id               bigserial primary key,
            view_name        text not null,
            row_count        bigint not null,
            published_at     timestamptz not null default now(),
            newest_event_at  timestamptz,          -- latest occurred_at in the raw tables
            lag_seconds      double precision,     -- published_at - newest_event_at
            dag_id           text not null,
            run_id           text not null
        )
    """)
    op.execute(
        "create index if not exists view_publications_recent"
        " on ops.view_publications (view_name, published_at desc)"
    )
    # One row per pipeline task that failed for good (after its retries, if any).
    op.execute("""
        create table if not exists ops.pipeline_alerts (
            id         bigserial primary key,
            raised_at  timestamptz not null default now(),
            dag_id     text not null,
            task_id    text not null,
            run_id     text not null,
            try_number int,
            error      text not null
        )
    """)


def publications() -> None:
    # One row per publication of a view to serving (pipeline/publish.py).
    op.execute("""
        create table if not exists serving.publications (
            id           bigserial primary key,
            view_name    text not null,
            watermark    bigint not null,
            mode         text not null check (mode in ('upsert', 'replace')),
            rows_written bigint not null,
            published_at timestamptz not null default now()
        )
    """)
    op.execute(
        "create index if not exists publications_view_name_id"
        " on serving.publications (view_name, id)"
    )
    # occurred_at of the newest event the published view includes (null: none yet).
    op.execute(
        "alter table serving.publications add column if not exists newest_event_at timestamptz"
    )


def run_horizons() -> None:
    # One watermark horizon per dbt invocation (dbt_project/macros/watermark.sql).
    op.execute("""
        create table if not exists marts.dbt_run_horizons (
            invocation_id text primary key,
            horizon       bigint not null,
            taken_at      timestamptz not null default now()
        )
    """)


def downgrade() -> None:
    raise NotImplementedError("forward only: restore a backup to go back")
