"""Every PostgreSQL advisory-lock key the project takes, declared once.

Advisory locks are per database: the same key in two databases never collides. New keys are
eight ASCII letters read as a big-endian 64-bit integer (``lock_key``), so a key seen in
``pg_locks`` (its ``classid``/``objid`` halves) reads as a word, apart from other
applications' keys.
"""

from __future__ import annotations


def lock_key(name: str) -> int:
    """The bigint key of an eight-letter ``name``: readable in pg_locks, fixed forever."""
    raw = name.encode("ascii")
    if len(raw) != 8:
        raise ValueError(f"a lock name has eight ASCII letters, not {name!r}")
    return int.from_bytes(raw, "big", signed=True)


# Two start-ups create or alter the login roles and grants one after the other (cluster-wide,
# taken in database `postgres` and in each secured database).
ROLES_LOCK = lock_key("cqrsrole")
# One schema upgrade at a time per database (database.migrate).
MIGRATIONS_LOCK = lock_key("cqrsmigr")
# One publication of the marts to `serving` at a time (pipeline.publish).
PUBLISH_LOCK = lock_key("cqrspub!")
# The two below keep the numbers they were first given (2026): a process of the previous
# version and one of this version, running side by side during an upgrade, still exclude
# each other.
# One outbox relay per service database, so per-aggregate order holds (services.outbox).
OUTBOX_RELAY_LOCK = 7710001
# One ingest run at a time per warehouse (ingest.job).
INGEST_LOCK = 7710002
# One archive, restore or release of raw partitions at a time (pipeline.raw_archive).
RAW_ARCHIVE_LOCK = lock_key("cqrsarch")
