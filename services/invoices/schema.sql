create table if not exists invoices (
    invoice_id  uuid primary key,
    order_id    uuid not null,
    invoice_url text not null,
    issued_by   text not null,
    created_at  timestamptz not null
);
create index if not exists invoices_order on invoices (order_id);
