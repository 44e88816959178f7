-- What dbt's on-run-start made on its first run (macros/watermark.sql as of 2026-12-06).
create table if not exists marts.dbt_run_horizons (
    invocation_id text primary key,
    horizon bigint not null,
    taken_at timestamptz not null default now()
);
