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
create table if not exists invoices (
    invoice_id  uuid primary key,
    order_id    uuid not null,
    invoice_url text not null,
    issued_by   text not null,
    created_at  timestamptz not null
);
create index if not exists invoices_order on invoices (order_id);
