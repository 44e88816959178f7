"""Transactional outbox shared by the write services, and the relay that publishes it.

A command writes its state change and its events in one transaction; the relay later reads
unpublished rows in id order and publishes them with an idempotent producer (acks=all).
Delivery is at-least-once (a crash between send and mark re-sends); the warehouse
deduplicates on event_id, so a re-send is harmless. A replay (after a memory-only broker
came back empty) waits for the batch in flight, so no batch is marked published after it.
The relay signs what it publishes: one Ed25519 signature of the service's key per batch,
over a Merkle tree of the batch's envelopes, each of which carries its inclusion proof
(contracts/signatures.py, docs/adr/signed-events.md). Rows are recorded unsigned; one
recorded with an older per-event signature is signed again the same way as it leaves.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from abc import ABC, abstractmethod
from datetime import datetime
from typing import Any

import orjson
import psycopg
from kafka import KafkaProducer
from kafka.errors import KafkaError
from opentelemetry.trace import SpanKind
from psycopg.conninfo import conninfo_to_dict
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from config import tracing
from config.settings import Settings
from contracts.catalog import PRODUCERS
from contracts.key_files import signer_for
from contracts.signatures import EventSigner
from database.locks import OUTBOX_RELAY_LOCK
from services.outbox_metrics import PUBLISHED, RELAY_FAILURES

log = logging.getLogger(__name__)


class Outbox(ABC):
    """Where a unit of work records the envelopes of the events it caused."""

    @abstractmethod
    def add(self, event: dict[str, Any]) -> None:
        """Record an already-validated envelope; it is kept only if the unit of work commits."""


class PostgresOutbox(Outbox):
    def __init__(self, conn: psycopg.Connection):
        self.conn = conn

    def add(self, event: dict[str, Any]) -> None:
        with tracing.tracer(__name__).start_as_current_span(
            "outbox insert",
            attributes={
                "event.id": event["event_id"],
                "messaging.destination.name": topic_of(event),
            },
        ):
            self.conn.execute(
                "insert into outbox (event_id, topic, message_key, event) values (%s, %s, %s, %s)",
                (event["event_id"], topic_of(event), event["aggregate_id"], Jsonb(event)),
            )


def topic_of(event: dict[str, Any]) -> str:
    """Each event type has its own topic, named as the type."""
    return str(event["event_type"])


def replay(conn: psycopg.Connection, since: datetime) -> int:
    """Mark events recorded at or after ``since`` unpublished, so the relay sends them again.

    It first waits for a relay batch in flight (the relay's lock): a batch a dying broker
    acknowledged but not yet marked would otherwise be marked published after this reset,
    and what the broker lost would never be sent again.
    """
    with conn.transaction():
        conn.execute("select pg_advisory_xact_lock(%s)", (OUTBOX_RELAY_LOCK,))
        cur = conn.execute(
            "update outbox set published_at = null"
            " where created_at >= %s and published_at is not null",
            (since,),
        )
        return cur.rowcount


def pending(conn: psycopg.Connection) -> int:
    row = conn.execute("select count(*) from outbox where published_at is null").fetchone()
    return int(row[0]) if row else 0


def producer_config(settings: Settings) -> dict[str, Any]:
    """The relay's KafkaProducer arguments: idempotent, acks=all, SASL/TLS from the settings."""
    return {
        "bootstrap_servers": settings.bootstrap_servers,
        **settings.kafka_client_options(),
        "enable_idempotence": True,
        "acks": "all",
        "linger_ms": 5,
        "max_in_flight_requests_per_connection": 5,
        "request_timeout_ms": 10_000,
        "max_block_ms": 10_000,
    }


def make_producer(settings: Settings) -> KafkaProducer:
    return KafkaProducer(**producer_config(settings))


# Rows per publish batch: also the envelopes under one batch signature (each carries an
# audit path of about log2 of it hashes).
BATCH_SIZE = 500


class Relay:
    """Publishes a service's outbox to Kafka, in id order, one relay per database at a time."""

    def __init__(
        self,
        settings: Settings,
        pool: ConnectionPool,
        *,
        batch_size: int = BATCH_SIZE,
        service: str | None = None,
        signer: EventSigner | None = None,
    ):
        self.settings = settings
        conninfo = pool.conninfo if isinstance(pool.conninfo, str) else pool.conninfo()
        self.service = service or str(conninfo_to_dict(conninfo).get("dbname", "unknown"))
        if signer is None and self.service in PRODUCERS:
            signer = signer_for(settings, self.service)
        self.signer = signer
        self.pool = pool
        self.batch_size = batch_size
        self._producer: KafkaProducer | None = None
        # Both series exist at 0 from the start: the first failure is then an increase (what
        # `increase()` and the dashboard see), not the birth of a series.
        PUBLISHED.labels(self.service)
        RELAY_FAILURES.labels(self.service)

    def publish_batch(self) -> int:
        """Publish up to one batch; return how many rows were published. Raises on broker errors."""
        with self.pool.connection() as conn, conn.transaction():
            # One relay per database keeps per-aggregate order: a second relay waits its turn.
            got = conn.execute(
                "select pg_try_advisory_xact_lock(%s)", (OUTBOX_RELAY_LOCK,)
            ).fetchone()
            if not got or not got[0]:
                return 0
            rows = conn.execute(
                "select id, topic, message_key, event from outbox"
                " where published_at is null order by id limit %s",
                (self.batch_size,),
            ).fetchall()
            if not rows:
                return 0
            with tracing.tracer(__name__).start_as_current_span(
                "outbox relay publish",
                kind=SpanKind.PRODUCER,
                attributes={"messaging.batch.message_count": len(rows)},
            ) as span:
                if span.is_recording():
                    for *_, event in rows:
                        link = tracing.link_to(event.get("trace", {}).get("traceparent"))
                        if link is not None:
                            span.add_link(link.context, {"event.id": str(event["event_id"])})
                self._send(rows)
            conn.execute(
                "update outbox set published_at = now() where id = any(%s)",
                ([r[0] for r in rows],),
            )
            PUBLISHED.labels(self.service).inc(len(rows))
            return len(rows)

    def _send(self, rows: list[tuple[Any, ...]]) -> None:
        producer = self._ensure_producer()
        futures = []
        for (_id, topic, key, _), event in zip(
            rows, self._signed([r[3] for r in rows]), strict=True
        ):
            headers = [
                ("event_type", topic.encode()),
                ("event_id", str(event["event_id"]).encode()),
            ]
            traceparent = event.get("trace", {}).get("traceparent")
            if traceparent:
                headers.append(("traceparent", traceparent.encode()))
            futures.append(
                producer.send(
                    topic,
                    key=key.encode(),
                    value=orjson.dumps(event),
                    headers=headers,
                )
            )
        producer.flush(timeout=30)
        for future in futures:
            placed = future.get(timeout=30)  # raises if the broker refused the message
            if placed.offset < 0:
                # Seen on Tansu restarted empty under a producer from before: an ack with
                # no offset, and the message is not in the log. Not published: retry.
                raise KafkaError(f"{placed.topic}: acknowledged without an offset")

    def _signed(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The batch as published: this service's envelopes under one batch signature.

        An envelope naming another producer is not this service's to vouch for: it leaves as
        it is, and the ingest says why it refuses it. Ed25519 signatures are deterministic,
        so the same rows published again as the same batch carry the same signatures."""
        if self.signer is None:
            return events
        ours = [i for i, e in enumerate(events) if e.get("producer") == self.signer.producer]
        signed = list(events)
        for i, event in zip(ours, self.signer.sign_batch([events[i] for i in ours]), strict=True):
            signed[i] = event
        return signed

    def drain(self) -> int:
        """Publish until the outbox is empty; return how many rows were published."""
        total = 0
        while n := self.publish_batch():
            total += n
        return total

    def run_forever(self, stop: threading.Event) -> None:
        """Poll the outbox; on broker errors retry with exponential backoff (capped at 30 s)."""
        backoff = self.settings.relay_interval_s
        while not stop.is_set():
            try:
                published = self.drain()
                backoff = self.settings.relay_interval_s
                if not published:
                    stop.wait(self.settings.relay_interval_s)
            except Exception as exc:  # broker or database down: rows stay, retry later
                log.warning("outbox relay failed, retrying in %.1fs: %s", backoff, exc)
                RELAY_FAILURES.labels(self.service).inc()
                self._reset_producer()
                stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)
        self.close()

    def _ensure_producer(self) -> KafkaProducer:
        if self._producer is None:
            self._producer = make_producer(self.settings)
        return self._producer

    def _reset_producer(self) -> None:
        if self._producer is not None:
            with contextlib.suppress(Exception):  # a broken producer is discarded anyway
                self._producer.close(timeout=1)
        self._producer = None

    def close(self) -> None:
        self._reset_producer()
