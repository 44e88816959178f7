"""The operation log belongs to a role nobody logs in as; the stock role may only append.

Until 2026-12-06 the stock role owned the log, so it could drop the append-only triggers,
alter or drop the table, whatever the triggers said, or drop the whole database. Now the
log, its trigger function, the schema they are in and the database belong to
``cqrsw_stock_log`` (made with the other roles, no login); the stock role keeps what it
needs: select and insert on the log, usage and create in the schema (for its other tables,
which it still owns), connect and temporary tables in the database.
"""

from __future__ import annotations

from alembic import op

from config.database_settings import DbRole
from database.roles import STOCK_LOG_OWNER

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_LOG = "product_stock_operations"
_GUARD = "product_stock_operations_append_only()"


def upgrade() -> None:
    stock = DbRole.STOCK.login
    # Handing an object to a role one cannot become is the admin's (database.migrate connects
    # as the admin and sets the stock role); back to the stock role at the end.
    op.execute("reset role")
    database: str = op.get_bind().exec_driver_sql("select current_database()").scalar_one()
    op.execute(f'alter database "{database}" owner to "{STOCK_LOG_OWNER}"')
    op.execute(f'grant connect, temporary on database "{database}" to "{stock}"')
    op.execute(f'alter schema public owner to "{STOCK_LOG_OWNER}"')
    op.execute(f'grant usage, create on schema public to "{stock}"')
    op.execute(f'alter table {_LOG} owner to "{STOCK_LOG_OWNER}"')
    op.execute(f'alter function {_GUARD} owner to "{STOCK_LOG_OWNER}"')
    op.execute(f'revoke all on {_LOG} from "{stock}"')
    op.execute(f'grant select, insert on {_LOG} to "{stock}"')
    op.execute(f'set local role "{stock}"')


def downgrade() -> None:
    raise NotImplementedError("forward only: restore a backup to go back")
