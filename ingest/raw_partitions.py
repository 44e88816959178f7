"""Partitions made ahead of the rows: every ingest run makes sure the months to come exist.

``raw.create_partitions`` (warehouse revision 0004) does the work and does nothing when they
are there. A lock it cannot get at once (a long reader of a raw table) is no reason to hold
up the ingest: the partitions are made months ahead, so the next run makes them.
"""

from __future__ import annotations

import logging

import psycopg
from psycopg.errors import LockNotAvailable

from database.warehouse import RAW_PARTITION_MONTHS_AHEAD

log = logging.getLogger(__name__)


def create_partitions(conn: psycopg.Connection, lock_timeout_ms: int = 2000) -> list[str]:
    """Make the raw partitions of this month and the months ahead; return the ones made."""
    try:
        with conn.transaction():
            conn.execute("select set_config('lock_timeout', %s, true)", (f"{lock_timeout_ms}ms",))
            rows = conn.execute(
                "select raw.create_partitions(%s)", (RAW_PARTITION_MONTHS_AHEAD,)
            ).fetchall()
    except LockNotAvailable as exc:
        log.warning("raw partitions not made this run (%s); the next run tries again", exc)
        return []
    made = [str(row[0]) for row in rows]
    if made:
        log.info("raw partitions made: %s", ", ".join(made))
    return made
