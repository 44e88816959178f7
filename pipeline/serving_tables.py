"""The serving tables publish mirrors from the marts: same columns, indexes and partitioning.

A mart dbt partitions by time (dbt_project/macros/partitions.sql) is served partitioned the
same way, so a reader's date range prunes in ``serving`` as it does in ``marts``. The
partition key and bounds are read from the catalogue (``pg_get_partkeydef``,
``pg_get_expr``): text PostgreSQL itself wrote, never input from outside.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from database.warehouse import MARTS_SCHEMA, SERVING_SCHEMA

_PARTITIONS = (
    "select c.relname, pg_get_expr(c.relpartbound, c.oid) from pg_inherits as i"
    " join pg_class as c on c.oid = i.inhrelid where i.inhparent = to_regclass(%s)"
)


def partition_key(conn: psycopg.Connection, schema: str, name: str) -> str | None:
    """``RANGE (day)`` for a table partitioned by ``day``; None for one that is not."""
    row = conn.execute("select pg_get_partkeydef(to_regclass(%s))", (f"{schema}.{name}",))
    found = row.fetchone()
    return str(found[0]) if found and found[0] else None


def partitioned_alike(conn: psycopg.Connection, name: str) -> bool:
    """Whether ``serving.<name>`` is partitioned as ``marts.<name>`` (a mart partitioned by
    a full refresh after an upgrade is served whole until its serving table is recreated)."""
    return partition_key(conn, SERVING_SCHEMA, name) == partition_key(conn, MARTS_SCHEMA, name)


def create_like_mart(conn: psycopg.Connection, name: str) -> None:
    """Create ``serving.<name>`` shaped as ``marts.<name>``, partitioned as it is."""
    source = sql.Identifier(MARTS_SCHEMA, name)
    target = sql.Identifier(SERVING_SCHEMA, name)
    key = partition_key(conn, MARTS_SCHEMA, name)
    statement = sql.SQL("create table {} (like {} including all)").format(target, source)
    if key:
        statement = sql.SQL("{} partition by {}").format(statement, sql.SQL(key))
    conn.execute(statement)


def mirror_partitions(conn: psycopg.Connection, name: str) -> list[str]:
    """Give ``serving.<name>`` a partition for each bound of the mart's it lacks (a new month);
    return the partitions created. Nothing to do for a table that is not partitioned."""
    if partition_key(conn, SERVING_SCHEMA, name) is None:
        return []
    served = {bound for _, bound in conn.execute(_PARTITIONS, (f"{SERVING_SCHEMA}.{name}",))}
    created = []
    for partition, bound in conn.execute(_PARTITIONS, (f"{MARTS_SCHEMA}.{name}",)).fetchall():
        if bound in served:
            continue
        conn.execute(
            sql.SQL("create table {} partition of {} {}").format(
                sql.Identifier(SERVING_SCHEMA, partition),
                sql.Identifier(SERVING_SCHEMA, name),
                sql.SQL(bound),
            )
        )
        created.append(partition)
    return created
