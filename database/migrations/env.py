"""Alembic's environment: runs the revisions on the connection ``database.migrate`` opened.

That connection already holds the migration lock in an open transaction, so every revision
of one upgrade and the version table commit together or not at all.
"""

from __future__ import annotations

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("migrations run through database.migrate (`cqrsw db upgrade`)")
context.configure(connection=connection, target_metadata=None, transactional_ddl=True)
with context.begin_transaction():
    context.run_migrations()
