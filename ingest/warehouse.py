"""The raw layer of the warehouse: schema, stored offsets and the batched write."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import psycopg
from psycopg import sql
from psycopg.errors import UniqueViolation

from config.settings import Settings
from contracts.catalog import raw_table
from database import connections
from database.names import WAREHOUSE_DATABASE

SCHEMA_FILE = Path(__file__).with_name("schema.sql")

RAW_COLUMNS = (
    "event_id", "event_type", "schema_version", "aggregate_id", "aggregate_version",
    "occurred_at", "producer", "request_id", "trace", "payload",
    "kafka_topic", "kafka_partition", "kafka_offset", "ingest_batch_id",
)  # fmt: skip


class RawEvent(NamedTuple):
    """A valid event at the current schema version, as the columns of ``raw.<topic>``."""

    event_id: str
    event_type: str
    schema_version: int
    aggregate_id: str
    aggregate_version: int
    occurred_at: str
    producer: str
    request_id: str | None
    trace: str  # JSON text
    payload: str  # JSON text
    kafka_topic: str
    kafka_partition: int
    kafka_offset: int


@dataclass(frozen=True)
class DeadLetter:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    reason: str


def ensure_schema(settings: Settings) -> None:
    connections.apply_schema(settings, WAREHOUSE_DATABASE, SCHEMA_FILE)


@dataclass(frozen=True)
class Position:
    """Next offset to read in a partition and the fingerprint of the message before it."""

    next_offset: int
    last_sha256: str | None = None


Positions = dict[tuple[str, int], Position]


def message_sha256(key: bytes | None, value: bytes | None) -> str:
    return hashlib.sha256((key or b"") + b"\0" + (value or b"")).hexdigest()


def stored_offsets(conn: psycopg.Connection) -> Positions:
    rows = conn.execute(
        "select topic, partition, next_offset, last_message_sha256 from raw.ingest_offsets"
    ).fetchall()
    return {(t, p): Position(o, sha) for t, p, o, sha in rows}


def write_batch(
    conn: psycopg.Connection,
    events: Sequence[RawEvent],
    dead: Sequence[DeadLetter],
    next_offsets: Positions,
) -> tuple[dict[str, int], int]:
    """Write one batch and its offsets in ONE transaction; return rows inserted per topic.

    Fast path: COPY straight into ``raw.<topic>`` (inside a savepoint). If an event_id is
    already there (a relay re-send, a replay after a broker reset) the COPY fails as a whole,
    and that topic's rows take the slow path: COPY into a temporary table, then insert the
    event_ids not yet present. Either way an event lands once.
    """
    inserted: dict[str, int] = {}
    with conn.transaction():
        row = conn.execute("select nextval('raw.ingest_batch_seq')").fetchone()
        assert row is not None
        batch_id = int(row[0])
        by_topic: dict[str, list[RawEvent]] = {}
        for event in events:
            by_topic.setdefault(event.kafka_topic, []).append(event)
        for topic, rows in sorted(by_topic.items()):
            table = sql.Identifier("raw", raw_table(topic))
            try:
                with conn.transaction():
                    _copy(conn, table, rows, batch_id)
                inserted[topic] = len(rows)
            except UniqueViolation:
                inserted[topic] = _merge(conn, table, rows, batch_id)
        if dead:
            with conn.cursor() as cur:
                cur.executemany(
                    "insert into raw.dead_letter_events (kafka_topic, kafka_partition,"
                    " kafka_offset, message_key, message_value, message_sha256, reason,"
                    " ingest_batch_id) values (%s, %s, %s, %s, %s, %s, %s, %s)"
                    " on conflict do nothing",
                    [
                        (d.topic, d.partition, d.offset, d.key, d.value,
                         message_sha256(d.key, d.value), d.reason, batch_id)
                        for d in dead
                    ],
                )  # fmt: skip
        save_offsets(conn, next_offsets)
    return inserted, batch_id


_COLUMNS = sql.SQL(", ").join(map(sql.Identifier, RAW_COLUMNS))


def _copy(
    conn: psycopg.Connection, table: sql.Composable, rows: list[RawEvent], batch: int
) -> None:
    with conn.cursor().copy(sql.SQL("copy {} ({}) from stdin").format(table, _COLUMNS)) as copy:
        for row in rows:
            copy.write_row((*row, batch))


def _merge(
    conn: psycopg.Connection, table: sql.Composable, rows: list[RawEvent], batch: int
) -> int:
    """Insert the rows whose event_id is new (first by partition/offset within the batch)."""
    conn.execute(
        "create temp table if not exists incoming (like raw.order_created including defaults)"
        " on commit delete rows"
    )
    conn.execute("truncate incoming")
    _copy(conn, sql.Identifier("incoming"), rows, batch)
    cur = conn.execute(
        sql.SQL(
            "insert into {table} ({cols}) select distinct on (event_id) {cols} from incoming"
            " order by event_id, kafka_partition, kafka_offset on conflict (event_id) do nothing"
        ).format(table=table, cols=_COLUMNS)
    )
    return cur.rowcount


def save_offsets(conn: psycopg.Connection, offsets: Positions) -> None:
    with conn.cursor() as cur:
        cur.executemany(
            "insert into raw.ingest_offsets (topic, partition, next_offset, last_message_sha256)"
            " values (%s, %s, %s, %s) on conflict (topic, partition) do update"
            " set next_offset = excluded.next_offset,"
            " last_message_sha256 = excluded.last_message_sha256, updated_at = now()",
            [(t, p, pos.next_offset, pos.last_sha256) for (t, p), pos in offsets.items()],
        )
