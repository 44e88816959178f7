"""The raw layer of the warehouse: schema, stored offsets and the batched write."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import psycopg

from contracts.catalog import raw_table
from ingest.landing import land
from ingest.rows import RAW_COLUMNS as RAW_COLUMNS
from ingest.rows import DeadLetter as DeadLetter
from ingest.rows import RawEvent as RawEvent


@dataclass(frozen=True)
class Position:
    """Next offset to read in a partition and the fingerprint of the message before it."""

    next_offset: int
    last_sha256: str | None = None
    # The broker's id of the topic the offset belongs to: a topic recreated, or a memory-only
    # broker restarted, gets a new one, whatever order its refilled log is in.
    topic_id: str | None = None


Positions = dict[tuple[str, int], Position]


def message_sha256(key: bytes | None, value: bytes | None) -> str:
    return hashlib.sha256((key or b"") + b"\0" + (value or b"")).hexdigest()


def stored_offsets(conn: psycopg.Connection) -> Positions:
    rows = conn.execute(
        "select topic, partition, next_offset, last_message_sha256, topic_id::text"
        " from raw.ingest_offsets"
    ).fetchall()
    return {(t, p): Position(o, sha, tid) for t, p, o, sha, tid in rows}


class Written(NamedTuple):
    """What one batch transaction wrote."""

    inserted: dict[str, int]  # rows per topic
    dead: list[DeadLetter]  # every dead letter, the ones PostgreSQL refused included
    batch_id: int


def write_batch(
    conn: psycopg.Connection,
    events: Sequence[RawEvent],
    dead: Sequence[DeadLetter],
    next_offsets: Positions,
) -> Written:
    """Write one batch, its dead letters and its offsets in ONE transaction.

    Each topic's rows land by ``ingest.landing.land``: a COPY, or, when PostgreSQL objects,
    a merge of known event_ids and a split down to the rows it refuses, which join the dead
    letters. Either way an event lands once and the offsets advance past every message.
    """
    inserted: dict[str, int] = {}
    dead = list(dead)
    with conn.transaction():
        row = conn.execute("select nextval('raw.ingest_batch_seq')").fetchone()
        assert row is not None
        batch_id = int(row[0])
        by_topic: dict[str, list[RawEvent]] = {}
        for event in events:
            by_topic.setdefault(event.kafka_topic, []).append(event)
        for topic, rows in sorted(by_topic.items()):
            inserted[topic], refused = land(conn, raw_table(topic), rows, batch_id)
            dead += refused
        if dead:
            with conn.cursor() as cur:
                cur.executemany(
                    "insert into raw.dead_letter_events (kafka_topic, kafka_partition,"
                    " kafka_offset, message_key, message_value, message_sha256, reason,"
                    " ingest_batch_id) values (%s, %s, %s, %s, %s, %s, %s, %s)"
                    " on conflict do nothing",
                    [
                        (d.topic, d.partition, d.offset, d.key, d.value,
                         message_sha256(d.key, d.value), d.stored_reason(), batch_id)
                        for d in dead
                    ],
                )  # fmt: skip
        save_offsets(conn, next_offsets)
    return Written(inserted, dead, batch_id)


def save_offsets(conn: psycopg.Connection, offsets: Positions) -> None:
    with conn.cursor() as cur:
        cur.executemany(
            "insert into raw.ingest_offsets"
            " (topic, partition, next_offset, last_message_sha256, topic_id)"
            " values (%s, %s, %s, %s, %s) on conflict (topic, partition) do update"
            " set next_offset = excluded.next_offset,"
            " last_message_sha256 = excluded.last_message_sha256,"
            " topic_id = excluded.topic_id, updated_at = now()",
            [
                (t, p, pos.next_offset, pos.last_sha256, pos.topic_id)
                for (t, p), pos in offsets.items()
            ],
        )
