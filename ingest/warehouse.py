"""The raw layer of the warehouse: schema, stored offsets and the batched write."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from services import db
from services.contracts import raw_table
from services.settings import WAREHOUSE_DATABASE, Settings

SCHEMA_FILE = Path(__file__).with_name("schema.sql")

RAW_COLUMNS = (
    "event_id", "event_type", "schema_version", "aggregate_id", "aggregate_version",
    "occurred_at", "producer", "request_id", "trace", "payload",
    "kafka_topic", "kafka_partition", "kafka_offset", "ingest_batch_id",
)  # fmt: skip

RawRow = tuple[object, ...]


@dataclass(frozen=True)
class DeadLetter:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    reason: str


def ensure_schema(settings: Settings) -> None:
    db.apply_schema(settings, WAREHOUSE_DATABASE, SCHEMA_FILE)


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
    rows: Sequence[RawRow],
    dead: Sequence[DeadLetter],
    next_offsets: Positions,
) -> tuple[dict[str, int], int]:
    """Write one batch and its offsets in ONE transaction; return rows inserted per topic.

    Rows go through COPY into a temporary table, then into ``raw.<topic>`` skipping event_ids
    already there: a replayed or re-sent event lands once.
    """
    inserted: dict[str, int] = {}
    with conn.transaction():
        batch_id = conn.execute("select nextval('raw.ingest_batch_seq')").fetchone()
        assert batch_id is not None
        conn.execute(
            "create temp table if not exists incoming (like raw.order_created including defaults)"
            " on commit delete rows"
        )
        cols = sql.SQL(", ").join(map(sql.Identifier, RAW_COLUMNS))
        with conn.cursor().copy(sql.SQL("copy incoming ({}) from stdin").format(cols)) as copy:
            for row in rows:
                copy.write_row((*row, batch_id[0]))
        for event_type in sorted({str(r[1]) for r in rows}):
            cur = conn.execute(
                sql.SQL(
                    "insert into {table} ({cols})"
                    " select distinct on (event_id) {cols} from incoming where event_type = %s"
                    " order by event_id, kafka_partition, kafka_offset"
                    " on conflict (event_id) do nothing"
                ).format(table=sql.Identifier("raw", raw_table(event_type)), cols=cols),
                (event_type,),
            )
            inserted[event_type] = cur.rowcount
        if dead:
            with conn.cursor() as cur:
                cur.executemany(
                    "insert into raw.dead_letter_events (kafka_topic, kafka_partition,"
                    " kafka_offset, message_key, message_value, message_sha256, reason,"
                    " ingest_batch_id) values (%s, %s, %s, %s, %s, %s, %s, %s)"
                    " on conflict do nothing",
                    [
                        (d.topic, d.partition, d.offset, d.key, d.value,
                         message_sha256(d.key, d.value), d.reason, batch_id[0])
                        for d in dead
                    ],
                )  # fmt: skip
        save_offsets(conn, next_offsets)
    return inserted, int(batch_id[0])


def save_offsets(conn: psycopg.Connection, offsets: Positions) -> None:
    with conn.cursor() as cur:
        cur.executemany(
            "insert into raw.ingest_offsets (topic, partition, next_offset, last_message_sha256)"
            " values (%s, %s, %s, %s) on conflict (topic, partition) do update"
            " set next_offset = excluded.next_offset,"
            " last_message_sha256 = excluded.last_message_sha256, updated_at = now()",
            [(t, p, pos.next_offset, pos.last_sha256) for (t, p), pos in offsets.items()],
        )
