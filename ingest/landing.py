"""How one topic's rows of a batch land in ``raw.<topic>``, whatever PostgreSQL says of them.

Fast path: one COPY of the event ids into ``raw.event_ids`` (whose key keeps an event_id
unique across every raw table and partition, docs/adr/raw-partitions.md), one COPY of the rows.
Slow paths, each inside a savepoint of the batch's transaction:
- an event_id already there (a relay re-send, a re-read after a broker reset): the rows are
  merged, each event_id once; a *conflicting* duplicate (same event_id, other content, or
  another topic) becomes a dead letter, never a silent drop. An id whose row was archived
  (``cqrsw raw archive``) is known, and its re-send is skipped;
- a row PostgreSQL refuses (a value out of a column's range, a character it cannot store):
  the rows are split in halves down to the refused ones, which become dead letters with the
  database's reason, and the rest land. A poison message never stops a partition.
"""

from __future__ import annotations

from collections.abc import Sequence

import psycopg
from psycopg import sql
from psycopg.errors import (
    CheckViolation,
    DataError,
    IntegrityError,
    ProgramLimitExceeded,
    UniqueViolation,
)

from ingest.rows import RAW_COLUMNS, DeadLetter, RawEvent

# Errors that belong to the rows written, not to the connection or the server: a retry of
# the same rows fails the same way, so the rows are isolated and dead-lettered instead.
REFUSED = (DataError, IntegrityError, ProgramLimitExceeded, UnicodeEncodeError)
# Except a row whose month has no raw partition yet (``ingest.raw_partitions``).
NO_PARTITION = "no partition of relation"

_COLUMNS = sql.SQL(", ").join(map(sql.Identifier, RAW_COLUMNS))
# What makes two events with one event_id the same event (the Kafka position may differ).
_CONTENT = (
    "event_type", "schema_version", "aggregate_id", "aggregate_version", "occurred_at",
    "producer", "request_id", "trace", "payload",
)  # fmt: skip
_WRITTEN = len(RAW_COLUMNS) - 1  # the RawEvent fields COPY writes; the batch id comes last


def land(
    conn: psycopg.Connection, topic_table: str, rows: Sequence[RawEvent], batch: int
) -> tuple[int, list[DeadLetter]]:
    """Write the rows; return how many were inserted and the ones that became dead letters."""
    table = sql.Identifier("raw", topic_table)
    try:
        with conn.transaction():
            _claim(conn, topic_table, rows)
            _copy(conn, table, rows, batch)
        return len(rows), []
    except UniqueViolation:
        pass  # known event_ids among them: merge below
    except REFUSED as exc:
        return _split(conn, topic_table, rows, batch, exc)
    try:
        with conn.transaction():
            return _merge(conn, topic_table, rows, batch)
    except REFUSED as exc:
        return _split(conn, topic_table, rows, batch, exc)


def refusal(exc: BaseException) -> str:
    """The database's reason for refusing a row, as a dead letter states it."""
    if isinstance(exc, psycopg.Error):
        message = exc.diag.message_primary or str(exc)
        detail = f" ({exc.diag.message_detail})" if exc.diag.message_detail else ""
        return f"refused by the warehouse: {exc.sqlstate} {message}{detail}"
    return f"refused by the warehouse: {type(exc).__name__}: {exc}"


def _split(
    conn: psycopg.Connection,
    topic_table: str,
    rows: Sequence[RawEvent],
    batch: int,
    exc: BaseException,
) -> tuple[int, list[DeadLetter]]:
    if isinstance(exc, CheckViolation) and (exc.diag.message_primary or "").startswith(
        NO_PARTITION
    ):
        # The warehouse's fault, not the rows': the run fails and its offsets stay.
        raise exc
    if len(rows) == 1:
        return 0, [_dead(rows[0], refusal(exc))]
    middle = len(rows) // 2
    first, first_dead = land(conn, topic_table, rows[:middle], batch)
    second, second_dead = land(conn, topic_table, rows[middle:], batch)
    return first + second, first_dead + second_dead


def _dead(row: RawEvent, reason: str) -> DeadLetter:
    return DeadLetter(
        row.kafka_topic, row.kafka_partition, row.kafka_offset,
        row.message_key, row.message_value, reason,
    )  # fmt: skip


def _copy(
    conn: psycopg.Connection, table: sql.Composable, rows: Sequence[RawEvent], batch: int
) -> None:
    with conn.cursor().copy(sql.SQL("copy {} ({}) from stdin").format(table, _COLUMNS)) as copy:
        for row in rows:
            copy.write_row((*row[:_WRITTEN], batch))


def _claim(conn: psycopg.Connection, topic_table: str, rows: Sequence[RawEvent]) -> None:
    """Record the rows' event ids; a known one raises UniqueViolation (the merge's cue)."""
    with conn.cursor().copy("copy raw.event_ids (event_id, raw_table) from stdin") as copy:
        for row in rows:
            copy.write_row((row.event_id, topic_table))


def _merge(
    conn: psycopg.Connection, topic_table: str, rows: Sequence[RawEvent], batch: int
) -> tuple[int, list[DeadLetter]]:
    """Insert the rows whose event_id is new (first by partition/offset within the batch).

    Then every incoming row whose event_id is stored with other content, or in another raw
    table, is a conflicting duplicate: dead-lettered with where the stored one came from.
    """
    table = sql.Identifier("raw", topic_table)
    conn.execute(
        "create temp table if not exists incoming (like raw.order_created including defaults)"
        " on commit delete rows"
    )
    conn.execute("truncate incoming")
    _copy(conn, sql.Identifier("incoming"), rows, batch)
    cur = conn.execute(
        sql.SQL(
            "with new_ids as (insert into raw.event_ids (event_id, raw_table)"
            "  select distinct event_id, %(table)s from incoming"
            "  on conflict (event_id) do nothing returning event_id)"
            " insert into {table} ({cols}) select distinct on (event_id) {cols}"
            " from incoming join new_ids using (event_id)"
            " order by event_id, kafka_partition, kafka_offset"
        ).format(table=table, cols=_COLUMNS),
        {"table": topic_table},
    )
    inserted = cur.rowcount
    # The stored row is found by where raw.event_ids says it is: its partition (ingested_at)
    # and its ingest transaction (the ingest_txid index); none when it was archived.
    conflicts = conn.execute(
        sql.SQL(
            "select i.kafka_partition, i.kafka_offset, k.raw_table, s.kafka_topic,"
            " s.kafka_partition, s.kafka_offset, k.event_id::text"
            " from incoming i join raw.event_ids k using (event_id)"
            " left join {table} s on k.raw_table = %(table)s and s.event_id = k.event_id"
            "  and s.ingested_at = k.ingested_at and s.ingest_txid = k.ingest_txid"
            " where k.raw_table <> %(table)s"
            "  or (s.event_id is not null and ({ic}) is distinct from ({sc}))"
        ).format(
            table=table,
            ic=sql.SQL(", ").join(sql.SQL("i.{}").format(sql.Identifier(c)) for c in _CONTENT),
            sc=sql.SQL(", ").join(sql.SQL("s.{}").format(sql.Identifier(c)) for c in _CONTENT),
        ),
        {"table": topic_table},
    ).fetchall()
    by_position = {(r.kafka_partition, r.kafka_offset): r for r in rows}
    dead = [
        _dead(
            by_position[(partition, offset)],
            f"conflicting duplicate: event_id {event_id} was already ingested into raw.{stored}"
            if topic is None
            else f"conflicting duplicate: event_id {event_id} was already ingested from"
            f" {topic}[{stored_partition}]@{stored_offset} with other content",
        )
        for partition, offset, stored, topic, stored_partition, stored_offset, event_id in (
            conflicts
        )
    ]
    return inserted, dead
