create table if not exists outbox (
    id           bigserial primary key,
    event_id     uuid not null unique,
    topic        text not null,
    message_key  text not null,
    event        jsonb not null,
    created_at   timestamptz not null default now(),
    published_at timestamptz
);
create index if not exists outbox_unpublished on outbox (id) where published_at is null;
create table if not exists idempotency_keys (
    user_id      text not null,
    key          text not null,
    request_hash text not null,
    status_code  int not null,
    response     jsonb not null,
    created_at   timestamptz not null default now(),
    primary key (user_id, key)
);
-- The operation log is the truth; current stock is folded from it, never stored as truth.
create table if not exists product_stock_operations (
    product_id  text not null,
    version     int not null check (version >= 1),
    operation   text not null check (operation in ('increase', 'decrease')),
    amount      int not null check (amount > 0),
    event_id    uuid not null unique,
    occurred_at timestamptz not null,
    request_id  text,
    primary key (product_id, version)  -- optimistic concurrency: one writer per version wins
);

-- Append-only: the log can be added to, never changed.
create or replace function product_stock_operations_append_only() returns trigger
language plpgsql as $$
begin
    raise exception 'product_stock_operations is append-only (% refused)', tg_op;
end $$;
drop trigger if exists append_only on product_stock_operations;
create trigger append_only before update or delete on product_stock_operations
    for each row execute function product_stock_operations_append_only();

-- Folded state every N operations; only an optimisation: deleting them changes no answer.
create table if not exists product_stock_snapshots (
    product_id text not null,
    version    int not null check (version >= 1),
    stock      bigint not null check (stock >= 0),
    taken_at   timestamptz not null default now(),
    primary key (product_id, version)
);
