"""The operation log refuses TRUNCATE too, as it refuses UPDATE and DELETE (2026-12-06).

The row trigger of the baseline never fires for TRUNCATE, which empties the log at once:
the truth of every product's stock. A statement trigger refuses it the same way.
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("drop trigger if exists no_truncate on product_stock_operations")
    op.execute("""
        create trigger no_truncate before truncate on product_stock_operations
            for each statement execute function product_stock_operations_append_only()
    """)


def downgrade() -> None:
    raise NotImplementedError("forward only: restore a backup to go back")
