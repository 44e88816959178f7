"""The invoices database as of 2026-12-06: outbox, idempotency keys, invoices.

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
        create table if not exists invoices (
            invoice_id  uuid primary key,
            order_id    uuid not null,
            invoice_url text not null,
            issued_by   text not null,
            created_at  timestamptz not null
        )
    """)
    op.execute("create index if not exists invoices_order on invoices (order_id)")


def downgrade() -> None:
    raise NotImplementedError("forward only: restore a backup to go back")
