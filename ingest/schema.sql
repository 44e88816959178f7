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

-- Every ingest transaction gets a batch id: the incremental watermark of the dbt models.
create sequence if not exists raw.ingest_batch_seq;

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
