"""Where each partition starts and ends for a run, checked against the broker's log."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping
from dataclasses import replace
from typing import Protocol, cast

from confluent_kafka import KafkaException, TopicCollection, Uuid
from confluent_kafka.admin import AdminClient
from kafka import KafkaConsumer, TopicPartition

from ingest import metrics, warehouse
from ingest.report import IngestReport
from ingest.warehouse import Position, message_sha256

log = logging.getLogger(__name__)


class IngestError(RuntimeError):
    """The broker did not answer as a Kafka broker must; nothing was written."""


class KafkaUuid(Protocol):
    """confluent-kafka's ``Uuid`` as its docstrings document it (``help(Uuid)``); its type
    stub names neither method."""

    def get_most_significant_bits(self) -> int: ...
    def get_least_significant_bits(self) -> int: ...


def partitions_of(consumer: KafkaConsumer, topics: tuple[str, ...]) -> list[TopicPartition]:
    partitions = []
    for topic in topics:
        ids = consumer.partitions_for_topic(topic)
        if not ids:
            log.warning("topic %s does not exist on the broker; skipped", topic)
            continue
        partitions += [TopicPartition(topic, p) for p in sorted(ids)]
    return partitions


def start_positions(
    consumer: KafkaConsumer,
    partitions: list[TopicPartition],
    stored: warehouse.Positions,
    ids: Mapping[str, str | None],
    report: IngestReport,
) -> tuple[dict[TopicPartition, Position], dict[TopicPartition, int], set[TopicPartition]]:
    """Where each partition starts and ends for this run, checked against the broker's log.

    A broker that lost its log (memory-only Tansu restarted, topic recreated, retention) shows
    a new topic id, a stored offset outside [first, end] or another message just before it.
    The topic id is what a refilled log cannot fake, whatever order it was re-published in;
    the other two cover brokers that report no topic id (None in ``ids``, from ``topic_ids``).
    Policy:
    report it loudly and read that partition again from its earliest offset; the event_id
    primary key of the raw tables absorbs whatever is read twice.
    """
    first = consumer.beginning_offsets(partitions)
    start = {tp: stored.get((tp.topic, tp.partition), Position(first[tp])) for tp in partitions}
    end, before = _probe(consumer, partitions, first, start)
    reset: set[TopicPartition] = set()
    for tp in partitions:
        pos = start[tp]
        current = ids[tp.topic]
        if current is not None and pos.topic_id != current:
            reset.add(tp)  # saved with the topic id, even if nothing is read
            if pos.topic_id is not None:
                why = f"the topic's id changed from {pos.topic_id} to {current} (recreated, or"
                _reset(tp, why + " the broker restarted empty): another log", first, report)
                start[tp] = Position(first[tp], topic_id=current)
                continue
            start[tp] = pos = replace(pos, topic_id=current)
        if not first[tp] <= pos.next_offset <= end[tp]:
            log_range = f"[{first[tp]}, {end[tp]}]"
            why = f"stored offset {pos.next_offset} is outside the broker's log {log_range}"
        elif pos.last_sha256 and pos.next_offset > first[tp] and before.get(tp) != pos.last_sha256:
            why = f"the message before stored offset {pos.next_offset} is not the one ingested"
        else:
            continue
        _reset(tp, why, first, report)
        start[tp] = Position(first[tp], topic_id=pos.topic_id)
        reset.add(tp)
    return start, end, reset


def _reset(
    tp: TopicPartition,
    why: str,
    first: dict[TopicPartition, int],
    report: IngestReport,
) -> None:
    message = f"{tp.topic}[{tp.partition}]: {why}; re-reading from offset {first[tp]}"
    log.error("broker lost data: %s", message)
    report.resets.append(message)
    metrics.OFFSET_RESETS.labels(tp.topic, str(tp.partition)).inc()


def topic_ids(
    admin: AdminClient, topics: list[str], timeout_s: float = 30
) -> dict[str, str | None]:
    """The broker's id of each topic (``TopicDescription.topic_id``), None where it reports none.

    IngestError if the broker does not describe a topic (gone since it was listed, or the
    ingest's user may not describe it) or does not answer in time: nothing is written then.
    """
    futures = admin.describe_topics(TopicCollection(topics), request_timeout=timeout_s)
    ids: dict[str, str | None] = {}
    for topic, future in futures.items():
        try:
            ids[topic] = uuid_text(future.result().topic_id)
        except KafkaException as e:
            raise IngestError(f"the broker did not describe topic {topic}: {e}") from e
    return ids


def uuid_text(topic_id: Uuid) -> str | None:
    """A Kafka Uuid as PostgreSQL's uuid type and kafka-python write it; None for the zero
    Uuid, which a broker sends for a topic it keeps no id for."""
    halves = cast(KafkaUuid, topic_id)
    bits = halves.get_most_significant_bits() % 2**64 << 64
    bits |= halves.get_least_significant_bits() % 2**64  # both signed 64-bit, as in Java
    return str(uuid.UUID(int=bits)) if bits else None


def _probe(
    consumer: KafkaConsumer,
    partitions: list[TopicPartition],
    first: dict[TopicPartition, int],
    start: dict[TopicPartition, Position],
    timeout_s: float = 30,
) -> tuple[dict[TopicPartition, int], dict[TopicPartition, str]]:
    """Fetch each partition once: its end offset now, and the message before the stored offset.

    The end comes from the fetch's high watermark, not from ListOffsets: Tansu answers
    ListOffsets with the start of the last record batch + 1, short of the real end.
    """
    for tp in partitions:
        consumer.seek(tp, max(first[tp], start[tp].next_offset - 1))
    want = {tp for tp in partitions if start[tp].next_offset > first[tp]}
    before: dict[TopicPartition, str] = {}
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for tp, messages in consumer.poll(timeout_ms=100).items():
            if tp in want and messages:
                msg = messages[0]
                if msg.offset == start[tp].next_offset - 1:
                    before[tp] = message_sha256(msg.key, msg.value)
                want.discard(tp)
        known = {tp: consumer.highwater(tp) for tp in partitions}
        want -= {tp for tp in want if known[tp] is not None and consumer.position(tp) >= known[tp]}
        if not want and all(hw is not None for hw in known.values()):
            return {tp: int(hw) for tp, hw in known.items() if hw is not None}, before
    missing = sorted(
        f"{tp.topic}[{tp.partition}]" for tp in partitions if consumer.highwater(tp) is None
    )
    raise IngestError(
        f"no fetch answer within {timeout_s:.0f}s for {', '.join(missing) or 'some partitions'}"
    )
