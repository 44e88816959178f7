-- Raw layer of the warehouse: what the ingest job writes, exactly as it arrived.
create schema if not exists raw;

-- One table per topic, all of the same shape: the envelope, the payload, where it was read.
create table if not exists raw.order_created (
    event_id          uuid primary key,
    event_type        text not null,
    schema_version    int not null,
    aggregate_id      text not null,
    aggregate_version int not null,
    occurred_at       timestamptz not null,
    producer          text not null,
    request_id        text,
    trace             jsonb not null,
    payload           jsonb not null,
    kafka_topic       text not null,
    kafka_partition   int not null,
    kafka_offset      bigint not null,
    ingest_batch_id   bigint not null,
    ingested_at       timestamptz not null default now()
);
create table if not exists raw.order_cancelled (like raw.order_created including all);
create table if not exists raw.invoice_created (like raw.order_created including all);
create table if not exists raw.stock_updated (like raw.order_created including all);

-- Next offset to read per topic partition; written in the same transaction as the rows.
create table if not exists raw.ingest_offsets (
    topic       text not null,
    partition   int not null,
    next_offset bigint not null check (next_offset >= 0),
    updated_at  timestamptz not null default now(),
    primary key (topic, partition)
);
-- sha256 of the message at next_offset - 1: tells a broker that lost its log and refilled it
-- (same offsets, other messages) from the log we read.
alter table raw.ingest_offsets add column if not exists last_message_sha256 text;
-- The broker's topic id (Kafka >= 2.8, Tansu): new when a topic is recreated or a memory-only
-- broker restarts, so a refilled log is noticed whatever order it is in. Null: not known.
alter table raw.ingest_offsets add column if not exists topic_id uuid;

-- Every ingest transaction gets a batch id (for tracing a row back to the run that wrote it).
create sequence if not exists raw.ingest_batch_seq;

-- The incremental watermark of the dbt models: the id of the transaction that wrote the row
-- (64-bit, never wraps). Sequence values and timestamps are taken before commit, so they do
-- not arrive in commit order; transaction ids below a snapshot's horizon do
-- (docs/adr/incremental-watermark.md). A default, so every writer of raw rows gets it right.
alter table raw.order_created
    add column if not exists ingest_txid bigint not null default pg_current_xact_id()::text::bigint;
alter table raw.order_cancelled
    add column if not exists ingest_txid bigint not null default pg_current_xact_id()::text::bigint;
alter table raw.invoice_created
    add column if not exists ingest_txid bigint not null default pg_current_xact_id()::text::bigint;
alter table raw.stock_updated
    add column if not exists ingest_txid bigint not null default pg_current_xact_id()::text::bigint;
create index if not exists order_created_ingest_txid on raw.order_created (ingest_txid);
create index if not exists order_cancelled_ingest_txid on raw.order_cancelled (ingest_txid);
create index if not exists invoice_created_ingest_txid on raw.invoice_created (ingest_txid);
create index if not exists stock_updated_ingest_txid on raw.stock_updated (ingest_txid);

-- orders_with_invoices re-reads every event of an order it refreshes, by order id.
create index if not exists order_created_order_id
    on raw.order_created (((payload ->> 'order_id')::uuid));
create index if not exists order_cancelled_order_id
    on raw.order_cancelled (((payload ->> 'order_id')::uuid));
create index if not exists invoice_created_order_id
    on raw.invoice_created (((payload ->> 'order_id')::uuid));

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
    -- The same bad message read twice (after a broker reset) is kept once; another message
    -- at a reused offset is kept as well.
    unique (kafka_topic, kafka_partition, kafka_offset, message_sha256)
);

-- Dead letters that left the table: replayed into raw after a fix, or discarded by an
-- operator. Kept as they were, with what happened to them, when and why (the audit trail).
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
);
