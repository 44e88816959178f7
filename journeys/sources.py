"""Gather the facts of ``cqrsw trace``: the services' outboxes, the warehouse, the schedule."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import sql

from config.settings import Settings
from contracts.catalog import MARTS_OF, raw_table
from database import connections
from database.names import SERVICE_DATABASES, WAREHOUSE_DATABASE
from database.warehouse import MARTS_SCHEMA
from journeys.journey import DeadLettered, Facts, Ingested, Journey, journey

MAX_EVENTS = 50  # an order id or a request id names a handful of events, not thousands

# An id is an event id, a request id, an aggregate id or the order id inside a payload.
MATCH_SQL = (
    "select event, created_at, published_at,"
    " (select count(*) from outbox o2 where o2.published_at is null and o2.id < outbox.id)"
    " from outbox where event_id::text = %(id)s or event ->> 'request_id' = %(id)s"
    " or message_key = %(id)s or event -> 'payload' ->> 'order_id' = %(id)s"
    " order by id limit %(limit)s"
)


def find_journeys(settings: Settings, identifier: str) -> list[Journey]:
    recorded = _from_outboxes(settings, identifier)
    if not recorded:
        return []
    reachable = _broker_reachable(settings) if any(r[3] is None for r in recorded) else None
    next_run = next_scheduled_run(settings.pipeline_schedule, datetime.now(UTC))
    with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
        return [
            journey(_facts(conn, service, event, at, published, ahead, reachable, next_run))
            for service, event, at, published, ahead in recorded
        ]


def _from_outboxes(
    settings: Settings, identifier: str
) -> list[tuple[str, dict[str, Any], datetime, datetime | None, int]]:
    found = []
    for service in SERVICE_DATABASES:
        with connections.connect(settings, service) as conn:
            if conn.execute("select to_regclass('outbox')").fetchone() == (None,):
                continue
            for event, at, published, ahead in conn.execute(
                MATCH_SQL, {"id": identifier, "limit": MAX_EVENTS}
            ):
                found.append((service, event, at, published, int(ahead)))
    return sorted(found, key=lambda r: r[2])


def _facts(
    conn: psycopg.Connection,
    service: str,
    event: dict[str, Any],
    recorded_at: datetime,
    published_at: datetime | None,
    ahead: int,
    reachable: bool | None,
    next_run: datetime | None,
) -> Facts:
    topic = str(event["event_type"])
    ingested = _ingested(conn, topic, str(event["event_id"]))
    dead = None if ingested else _dead_letter(conn, topic, str(event["event_id"]))
    marts = MARTS_OF.get(topic, ())
    return Facts(
        event=event, service=service, recorded_at=recorded_at, published_at=published_at,
        ahead_in_outbox=ahead, broker_reachable=reachable, ingested=ingested,
        dead_letter=dead, built_watermark=_built(conn, marts),
        served_at=_served(conn, marts, ingested.txid) if ingested else {}, next_run=next_run,
    )  # fmt: skip


def _exists(conn: psycopg.Connection, relation: str) -> bool:
    return conn.execute("select to_regclass(%s)", (relation,)).fetchone() != (None,)


def _ingested(conn: psycopg.Connection, topic: str, event_id: str) -> Ingested | None:
    table = f"raw.{raw_table(topic)}"
    if not _exists(conn, table):
        return None
    row = conn.execute(
        sql.SQL(
            "select ingested_at, ingest_batch_id, kafka_partition, kafka_offset, ingest_txid"
            " from {} where event_id = %s"
        ).format(sql.Identifier("raw", raw_table(topic))),
        (event_id,),
    ).fetchone()
    return Ingested(*row) if row else None


def _dead_letter(conn: psycopg.Connection, topic: str, event_id: str) -> DeadLettered | None:
    if not _exists(conn, "raw.dead_letter_events"):
        return None
    row = conn.execute(
        "select ingested_at, reason, kafka_partition, kafka_offset from raw.dead_letter_events"
        " where kafka_topic = %s and position(%s::bytea in message_value) > 0"
        " order by id desc limit 1",
        (topic, event_id.encode()),
    ).fetchone()
    return DeadLettered(*row) if row else None


def _built(conn: psycopg.Connection, marts: tuple[str, ...]) -> dict[str, int]:
    built = {}
    for mart in marts:
        if _exists(conn, f"{MARTS_SCHEMA}.{mart}"):
            row = conn.execute(
                sql.SQL("select max(changed_at_watermark) from {}").format(
                    sql.Identifier(MARTS_SCHEMA, mart)
                )
            ).fetchone()
            if row and row[0] is not None:
                built[mart] = int(row[0])
    return built


def _served(conn: psycopg.Connection, marts: tuple[str, ...], txid: int) -> dict[str, datetime]:
    """When each mart was first published with a watermark past the event's transaction."""
    if not _exists(conn, "serving.publications"):
        return {}
    served = {}
    for mart in marts:
        row = conn.execute(
            "select published_at from serving.publications where view_name = %s"
            " and watermark > %s order by id limit 1",
            (mart, txid),
        ).fetchone()
        if row:
            served[mart] = row[0]
    return served


def _broker_reachable(settings: Settings) -> bool:
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    try:
        admin = KafkaAdminClient(
            bootstrap_servers=settings.bootstrap_servers,
            request_timeout_ms=3000,
            **settings.kafka_client_options(),
        )
    except KafkaError:
        return False
    with contextlib.suppress(Exception):
        admin.close()
    return True


def next_scheduled_run(schedule: str, now: datetime) -> datetime | None:
    """The next time the pipeline DAG is due, from its cron (None if it is not a cron)."""
    from croniter import croniter

    try:
        return croniter(schedule, now).get_next(datetime)
    except (ValueError, KeyError):
        return None
