"""The stock database as of 2026-12-06: outbox, idempotency keys, the operation log, snapshots.

Idempotent, so it also adopts a database that the services made before migrations existed.
"""

from __future__ import annotations

from alembic import op

from database.migrations.ddl import create_idempotency_keys, create_outbox

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_outbox(op)
    create_idempotency_keys(op)
    # The operation log is the truth; current stock is folded from it, never stored as truth.
    op.execute("""
        create table if not exists product_stock_operations (
            product_id  text not null,
            version     int not null check (version >= 1),
            operation   text not null check (operation in ('increase', 'decrease')),
            amount      int not null check (amount > 0),
            event_id    uuid not null unique,
            occurred_at timestamptz not null,
            request_id  text,
            primary key (product_id, version)  -- optimistic concurrency: one writer per version
        )
    """)
    # Append-only: the log can be added to, never changed.
    op.execute("""
        create or replace function product_stock_operations_append_only() returns trigger
        language plpgsql as $$
        begin
            raise exception 'product_stock_operations is append-only (% refused)', tg_op;
        end $$
    """)
    op.execute("drop trigger if exists append_only on product_stock_operations")
    op.execute("""
        create trigger append_only before update or delete on product_stock_operations
            for each row execute function product_stock_operations_append_only()
    """)
    # Folded state every N operations; only an optimisation: deleting them changes no answer.
    op.execute("""
        create table if not exists product_stock_snapshots (
            product_id text not null,
            version    int not null check (version >= 1),
            stock      bigint not null check (stock >= 0),
            taken_at   timestamptz not null default now(),
            primary key (product_id, version)
        )
    """)


def downgrade() -> None:
    raise NotImplementedError("forward only: restore a backup to go back")
