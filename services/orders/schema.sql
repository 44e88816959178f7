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
create index if not exists orders_user on orders (user_id);
