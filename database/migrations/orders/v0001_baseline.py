"""The orders database as of 2026-12-06: outbox, idempotency keys, orders.

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
    op.execute("""
        create table if not exists orders (
            order_id      uuid primary key,
            user_id       text not null,
            customer_name text not null,
            items         jsonb not null,
            status        text not null check (status in ('created', 'cancelled')),
            version       int not null check (version >= 1),
            created_at    timestamptz not null,
            updated_at    timestamptz not null
        )
    """)
    # A user's newest orders (services/orders/bff_queries.py); it also serves what the plain
    # (user_id) index of earlier versions did, which it replaces.
    op.execute(
        "create index if not exists orders_user_created on orders (user_id, created_at, order_id)"
    )
    op.execute("drop index if exists orders_user")


def downgrade() -> None:
    raise NotImplementedError("forward only: restore a backup to go back")
