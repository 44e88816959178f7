"""serving.publications.checked_at: the last pipeline run that found a publication still
current. A view whose mart did not change is not published again (pipeline/publish.py);
that run moves this instead, and ``GET /freshness`` tells it apart from ``published_at``."""

from __future__ import annotations

from alembic import op

from config.database_settings import DbRole
from database.migrations.ddl import owned_by

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with owned_by(op, DbRole.PUBLISHER):
        op.execute(
            "alter table serving.publications add column if not exists checked_at timestamptz"
        )


def downgrade() -> None:
    raise NotImplementedError("forward only: restore a backup to go back")
