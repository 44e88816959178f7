"""Checks that cost what is new: where the pipeline's checks got to, and an index for the
freshness record.

The pipeline's dbt data tests and Great Expectations raw suites look only at the rows
ingested since the last run whose checks passed (docs/adr/check-windows.md): each check
keeps in ``marts.checked_windows`` the transaction id below which every raw row has been
checked. The daily audit checks every row. ``ops.record_publication`` reads the newest
``occurred_at`` of each raw table: an index makes that a backward index step instead of a
scan of the whole table.
"""

from __future__ import annotations

from alembic import op

from config.database_settings import DbRole
from database.migrations.ddl import identifier, index_occurred_at, owned_by

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# The event topics of 2026-12-06 (the baseline's); a topic added later gets its index from
# the revision that adds its table.
TOPICS = ("order.created", "order.cancelled", "invoice.created", "stock.updated")


def upgrade() -> None:
    with owned_by(op, DbRole.DBT):
        op.execute("""
            create table if not exists marts.checked_windows (
                check_name    text primary key,
                checked_below bigint not null check (checked_below >= 0),
                checked_at    timestamptz not null default now()
            )
        """)
        # dbt records its own window (on-run-end); the gate connects as the publisher.
        op.execute(
            "grant select, insert, update on marts.checked_windows"
            f" to {identifier(DbRole.PUBLISHER.login)}"
        )
    with owned_by(op, DbRole.INGEST):
        for topic in TOPICS:
            index_occurred_at(op, topic)


def downgrade() -> None:
    raise NotImplementedError("forward only: restore a backup to go back")
