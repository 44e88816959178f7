"""``cqrsw ingest``: read each partition from its stored offset to the end seen at start.

Partitions are assigned explicitly (no consumer group); offsets live in the warehouse and are
committed in the same transaction as the rows, so a crash at any point followed by a re-run
gives the same raw tables as one uninterrupted run.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import psycopg
from kafka import KafkaConsumer, TopicPartition

from ingest import metrics, warehouse
from ingest.decode import decode
from ingest.warehouse import DeadLetter, Position, Positions, RawEvent, message_sha256
from services import db
from services.settings import TOPICS, WAREHOUSE_DATABASE, Settings

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


@dataclass
class TopicReport:
    rows_written: int = 0
    dead_letters: int = 0
    lag_left: int = 0


@dataclass
class IngestReport:
    topics: dict[str, TopicReport] = field(default_factory=lambda: defaultdict(TopicReport))
    resets: list[str] = field(default_factory=list)
    batches: int = 0
    messages: int = 0
    seconds: float = 0.0


def make_consumer(settings: Settings) -> KafkaConsumer:
    return KafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=5000,
        max_partition_fetch_bytes=16 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
        request_timeout_ms=30_000,
    )


def run_ingest(
    settings: Settings,
    *,
    topics: tuple[str, ...] = TOPICS,
    batch_size: int = 5000,
    on_progress: Progress | None = None,
) -> IngestReport:
    """Ingest every partition up to its end offset at start; return what was written and left."""
    started = time.monotonic()
    report = IngestReport()
    consumer = make_consumer(settings)
    try:
        with db.connect(settings, WAREHOUSE_DATABASE) as conn:
            partitions = _partitions(consumer, topics)
            if partitions:
                consumer.assign(partitions)
                stored = warehouse.stored_offsets(conn)
                start, end = _start_positions(consumer, partitions, stored, report)
                run = _Run(conn, consumer, partitions, start, end, batch_size, report)
                run.consume(on_progress)
    finally:
        consumer.close()
    report.seconds = time.monotonic() - started
    return report


class IngestError(RuntimeError):
    """The broker did not answer as a Kafka broker must; nothing was written."""


def _partitions(consumer: KafkaConsumer, topics: tuple[str, ...]) -> list[TopicPartition]:
    partitions = []
    for topic in topics:
        ids = consumer.partitions_for_topic(topic)
        if not ids:
            log.warning("topic %s does not exist on the broker; skipped", topic)
            continue
        partitions += [TopicPartition(topic, p) for p in sorted(ids)]
    return partitions


def _start_positions(
    consumer: KafkaConsumer,
    partitions: list[TopicPartition],
    stored: warehouse.Positions,
    report: IngestReport,
) -> tuple[dict[TopicPartition, Position], dict[TopicPartition, int]]:
    """Where each partition starts and ends for this run, checked against the broker's log.

    A broker that lost its log (memory-only Tansu restarted, topic recreated, retention) shows
    either a stored offset outside [first, end] or another message just before it. Policy:
    report it loudly and read that partition again from its earliest offset; the event_id
    primary key of the raw tables absorbs whatever is read twice.
    """
    first = consumer.beginning_offsets(partitions)
    start = {tp: stored.get((tp.topic, tp.partition), Position(first[tp])) for tp in partitions}
    end, before = _probe(consumer, partitions, first, start)
    for tp in partitions:
        pos = start[tp]
        if not first[tp] <= pos.next_offset <= end[tp]:
            log_range = f"[{first[tp]}, {end[tp]}]"
            why = f"stored offset {pos.next_offset} is outside the broker's log {log_range}"
        elif pos.last_sha256 and pos.next_offset > first[tp] and before.get(tp) != pos.last_sha256:
            why = f"the message before stored offset {pos.next_offset} is not the one ingested"
        else:
            continue
        message = f"{tp.topic}[{tp.partition}]: {why}; re-reading from offset {first[tp]}"
        log.error("broker lost data: %s", message)
        report.resets.append(message)
        metrics.OFFSET_RESETS.labels(tp.topic, str(tp.partition)).inc()
        start[tp] = Position(first[tp])
    return start, end


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
        for tp, messages in consumer.poll(timeout_ms=500).items():
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


class _Run:
    """One bounded pass over the assigned partitions, written in batches.

    The consumer thread decodes batch k+1 while a writer thread commits batch k, so Python
    and PostgreSQL work at the same time; batches still commit one after another, in order.
    """

    def __init__(
        self,
        conn: psycopg.Connection,
        consumer: KafkaConsumer,
        partitions: list[TopicPartition],
        start: dict[TopicPartition, Position],
        end: dict[TopicPartition, int],
        batch_size: int,
        report: IngestReport,
    ):
        self.conn, self.consumer, self.partitions = conn, consumer, partitions
        self.position = dict(start)
        self.end, self.batch_size, self.report = end, batch_size, report
        self.events: list[RawEvent] = []
        self.dead: list[DeadLetter] = []
        self.last: dict[TopicPartition, tuple[int, bytes | None, bytes | None]] = {}
        self.dirty = bool(report.resets)  # a reset must be saved even if nothing is read
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-writer")
        self.pending: Future[None] | None = None
        for tp in partitions:
            report.topics[tp.topic]  # every topic appears in the summary, even when idle

    def consume(self, on_progress: Progress | None) -> None:
        try:
            self._consume(on_progress)
            self._wait_for_writer()
        finally:
            self.writer.shutdown(wait=True)
        self._record_lag()

    def _consume(self, on_progress: Progress | None) -> None:
        total = sum(self.end[tp] - self.position[tp].next_offset for tp in self.partitions)
        active = {tp for tp in self.partitions if self.position[tp].next_offset < self.end[tp]}
        for tp in self.partitions:
            self.consumer.seek(tp, self.position[tp].next_offset)
        self.consumer.pause(*[tp for tp in self.partitions if tp not in active])
        done = 0
        while active:
            polled = self.consumer.poll(timeout_ms=1000, max_records=self.batch_size)
            for tp, messages in polled.items():
                end = self.end[tp]
                for msg in messages:
                    if msg.offset >= end:
                        break  # beyond the end seen at start: the next run takes it
                    decoded = decode(tp.topic, tp.partition, msg.offset, msg.key, msg.value)
                    if isinstance(decoded, DeadLetter):
                        self.dead.append(decoded)
                    else:
                        self.events.append(decoded)
                    self.last[tp] = (msg.offset, msg.key, msg.value)
                    self.dirty = True
                    done += 1
            for tp in [tp for tp in active if self.consumer.position(tp) >= self.end[tp]]:
                active.discard(tp)  # read to the end seen at start (gaps in offsets included)
                self.consumer.pause(tp)
            if len(self.events) + len(self.dead) >= self.batch_size or not active:
                self.flush()
                if on_progress is not None:
                    on_progress(done, total)
        self.flush()
        self.report.messages = done

    def flush(self) -> None:
        """Hand the batch to the writer; wait for the previous one first (double buffering)."""
        if not self.dirty:
            return
        for tp, (offset, key, value) in self.last.items():
            self.position[tp] = Position(offset + 1, message_sha256(key, value))
        self.last = {}
        offsets = {(tp.topic, tp.partition): self.position[tp] for tp in self.partitions}
        self._wait_for_writer()
        self.pending = self.writer.submit(self._write, self.events, self.dead, offsets)
        self.events, self.dead, self.dirty = [], [], False

    def _write(self, events: list[RawEvent], dead: list[DeadLetter], offsets: Positions) -> None:
        t0 = time.monotonic()
        inserted, _ = warehouse.write_batch(self.conn, events, dead, offsets)
        metrics.BATCH_SECONDS.observe(time.monotonic() - t0)
        for topic, n in inserted.items():
            self.report.topics[topic].rows_written += n
            metrics.ROWS_INGESTED.labels(topic).inc(n)
        for d in dead:
            self.report.topics[d.topic].dead_letters += 1
            metrics.DEAD_LETTERS.labels(d.topic).inc()
        self.report.batches += 1

    def _wait_for_writer(self) -> None:
        if self.pending is not None:
            pending, self.pending = self.pending, None
            pending.result()  # re-raises a failed write here, before anything else is written

    def _record_lag(self) -> None:
        for tp in self.partitions:
            latest = max(self.consumer.highwater(tp) or 0, self.end[tp])
            left = latest - self.position[tp].next_offset
            self.report.topics[tp.topic].lag_left += left
            metrics.LAG.labels(tp.topic, str(tp.partition)).set(left)
