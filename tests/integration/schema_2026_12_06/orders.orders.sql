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
create table if not exists orders (
    order_id      uuid primary key,
    user_id       text not null,
    customer_name text not null,
    items         jsonb not null,
    status        text not null check (status in ('created', 'cancelled')),
    version       int not null check (version >= 1),
    created_at    timestamptz not null,
    updated_at    timestamptz not null
);
-- A user's newest orders (services/orders/bff_queries.py); it also serves what the plain
-- (user_id) index did, which it replaces.
create index if not exists orders_user_created on orders (user_id, created_at, order_id);
drop index if exists orders_user;
