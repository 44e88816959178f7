-- Operational records of the pipeline, beside the warehouse data they describe.
create schema if not exists ops;

-- One row per published view per run: how many rows, and how fresh the events behind them.
create table if not exists ops.view_publications (
    id               bigserial primary key,
    view_name        text not null,
    row_count        bigint not null,
    published_at     timestamptz not null default now(),
    newest_event_at  timestamptz,          -- latest occurred_at in the raw tables
    lag_seconds      double precision,     -- published_at - newest_event_at
    dag_id           text not null,
    run_id           text not null
);
create index if not exists view_publications_recent on ops.view_publications (view_name, published_at desc);

-- One row per pipeline task that failed for good (after its retries, if any).
create table if not exists ops.pipeline_alerts (
    id         bigserial primary key,
    raised_at  timestamptz not null default now(),
    dag_id     text not null,
    task_id    text not null,
    run_id     text not null,
    try_number int,
    error      text not null
);

create schema if not exists serving;
create table if not exists serving.publications (
    id           bigserial primary key,
    view_name    text not null,
    watermark    bigint not null,
    mode         text not null check (mode in ('upsert', 'replace')),
    rows_written bigint not null,
    published_at timestamptz not null default now()
);
create index if not exists publications_view_name_id on serving.publications (view_name, id);
-- occurred_at of the newest event the published view includes (null: none yet).
alter table serving.publications add column if not exists newest_event_at timestamptz;
