"""Dead letters after a fix: list, show, replay through the current contracts, or discard.

Replay decodes each message again exactly as the ingest does (current contracts), so a
contract fix rescues it. A rescued message lands in its
raw table and its dead letter moves to ``raw.dead_letter_archive`` in ONE transaction
(rows locked, event_id unique): replayed once, however often or concurrently replay runs.
Discard moves a dead letter to the archive with a note, never deletes it outright.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from contracts.catalog import raw_table
from contracts.signatures import TrustedKeys
from ingest.decode import decode
from ingest.landing import land
from ingest.warehouse import DeadLetter, RawEvent


@dataclass(frozen=True)
class Selection:
    """Which dead letters a command applies to; every filter given must match."""

    ids: tuple[int, ...] = ()
    topic: str | None = None
    reason: str | None = None  # a part of the reason, case-insensitive
    since: datetime | None = None
    until: datetime | None = None

    def where(self) -> tuple[sql.Composable, list[object]]:
        clauses: list[sql.Composable] = [sql.SQL("true")]
        params: list[object] = []
        if self.ids:
            clauses.append(sql.SQL("id = any(%s)"))
            params.append(list(self.ids))
        if self.topic:
            clauses.append(sql.SQL("kafka_topic = %s"))
            params.append(self.topic)
        if self.reason:
            clauses.append(sql.SQL("strpos(lower(reason), lower(%s)) > 0"))
            params.append(self.reason)
        if self.since:
            clauses.append(sql.SQL("ingested_at >= %s"))
            params.append(self.since)
        if self.until:
            clauses.append(sql.SQL("ingested_at < %s"))
            params.append(self.until)
        return sql.SQL(" and ").join(clauses), params


@dataclass(frozen=True)
class Stored:
    """One row of ``raw.dead_letter_events``."""

    id: int
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    reason: str
    ingested_at: datetime


_FIELDS = sql.SQL(
    "id, kafka_topic, kafka_partition, kafka_offset, message_key, message_value, reason,"
    " ingested_at"
)


def _stored(row: tuple[Any, ...]) -> Stored:
    i, topic, partition, offset, key, value, reason, at = row
    return Stored(
        i, topic, partition, offset,
        bytes(key) if key is not None else None, bytes(value) if value is not None else None,
        reason, at,
    )  # fmt: skip


def find(conn: psycopg.Connection, selection: Selection, *, limit: int = 1000) -> list[Stored]:
    where, params = selection.where()
    query = sql.SQL("select {} from raw.dead_letter_events where {} order by id limit %s")
    rows = conn.execute(query.format(_FIELDS, where), [*params, limit]).fetchall()
    return [_stored(r) for r in rows]


@dataclass
class ReplayResult:
    rescued: list[int] = field(default_factory=list)  # dead letter ids now in raw
    duplicates: list[int] = field(default_factory=list)  # already in raw: archived too
    still_dead: dict[int, str] = field(default_factory=dict)  # id -> today's reason


def replay(conn: psycopg.Connection, selection: Selection, trust: TrustedKeys) -> ReplayResult:
    """Decode the selected dead letters again; move the ones that pass into raw, once.

    The signature is checked again, against today's trusted keys: a replay never lets in
    an event its producer did not sign."""
    result = ReplayResult()
    where, params = selection.where()
    with conn.transaction():
        rows = conn.execute(
            sql.SQL(
                "select {} from raw.dead_letter_events where {} order by id for update skip locked"
            ).format(_FIELDS, where),
            params,
        ).fetchall()
        letters = [_stored(r) for r in rows]
        decoded: dict[int, RawEvent] = {}
        for letter in letters:
            row = decode(
                letter.topic, letter.partition, letter.offset, letter.key, letter.value, trust
            )
            if isinstance(row, DeadLetter):
                result.still_dead[letter.id] = row.stored_reason()
            else:
                decoded[letter.id] = row
        if decoded:
            batch = conn.execute("select nextval('raw.ingest_batch_seq')").fetchone()
            assert batch is not None
            _land_all(conn, letters, decoded, int(batch[0]), result)
        _archive(conn, result.rescued + result.duplicates, "replayed", None)
        for letter_id, reason in result.still_dead.items():
            conn.execute(
                "update raw.dead_letter_events set reason = %s where id = %s", (reason, letter_id)
            )
    return result


def _land_all(
    conn: psycopg.Connection,
    letters: list[Stored],
    decoded: dict[int, RawEvent],
    batch: int,
    result: ReplayResult,
) -> None:
    by_topic: dict[str, list[tuple[int, RawEvent]]] = {}
    for letter in letters:
        if letter.id in decoded:
            by_topic.setdefault(letter.topic, []).append((letter.id, decoded[letter.id]))
    for topic, pairs in by_topic.items():
        # One at a time: which letter landed, which was a duplicate, which PostgreSQL refused.
        for letter_id, row in pairs:
            inserted, refused = land(conn, raw_table(topic), [row], batch)
            if refused:
                result.still_dead[letter_id] = refused[0].stored_reason()
            elif inserted:
                result.rescued.append(letter_id)
            else:
                result.duplicates.append(letter_id)


def discard(conn: psycopg.Connection, selection: Selection, note: str) -> list[int]:
    """Move the selected dead letters to the archive as discarded, with the operator's note."""
    with conn.transaction():
        where, params = selection.where()
        ids = [
            int(r[0])
            for r in conn.execute(
                sql.SQL(
                    "select id from raw.dead_letter_events where {} for update skip locked"
                ).format(where),
                params,
            ).fetchall()
        ]
        _archive(conn, ids, "discarded", note)
    return ids


def _archive(conn: psycopg.Connection, ids: list[int], outcome: str, note: str | None) -> None:
    if not ids:
        return
    conn.execute(
        "with gone as (delete from raw.dead_letter_events where id = any(%s) returning *)"
        " insert into raw.dead_letter_archive (id, kafka_topic, kafka_partition, kafka_offset,"
        " message_key, message_value, message_sha256, reason, ingested_at, outcome, note)"
        " select id, kafka_topic, kafka_partition, kafka_offset, message_key, message_value,"
        " message_sha256, reason, ingested_at, %s, %s from gone",
        (ids, outcome, note),
    )
