"""One bounded pass over a set of partitions, written in batches (one transaction each)."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import replace
from typing import cast

import confluent_kafka
import orjson
import psycopg
from kafka import TopicPartition
from opentelemetry import context as otel_context
from opentelemetry.trace import Span, SpanKind

from config import tracing
from contracts.signatures import TrustedKeys
from ingest import warehouse
from ingest.decode import Message, decode_all
from ingest.gaps import GapCheck
from ingest.reader import check
from ingest.report import IngestReport
from ingest.warehouse import DeadLetter, Position, Positions, RawEvent, message_sha256

Progress = Callable[[int], None]  # called with the number of messages read since the last call
Part = tuple[str, int]  # a message's (topic, partition)
# librdkafka's consume() returns when it has this many messages or after this long: a short
# wait, so the last messages of a run (fewer than a batch) do not wait a second for company.
CONSUME_MAX = 2000
CONSUME_WAIT_S = 0.05
# How often a partition the reader has gone quiet on may be asked about gaps (``ingest.gaps``):
# a check is a kafka-python fetch, and a partition is also quiet while its next fetch is out.
GAP_CHECK_EVERY_S = 0.1


@contextmanager
def collector_off() -> Iterator[None]:
    """The cyclic collector off for a bounded pass, as the ingest runs one.

    The automatic collector rescans every live object each time the many short-lived ones
    per message trip its thresholds: about a quarter of the run's time. It is off for the
    pass, and collects what it left once it is back on.
    """
    was_enabled = gc.isenabled()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.unfreeze()
        if was_enabled:
            gc.enable()


class DeadlineExceeded(TimeoutError):
    """The run reached its deadline before the end of its partitions; what it read is saved.

    A timeout, so the pipeline retries it with backoff (the broker may be back by then).
    """


class PartitionRun:
    """One bounded pass over the assigned partitions, written in batches.

    The consumer thread reads and decodes batch k+1 while a writer thread commits batch k,
    so Python and PostgreSQL work at the same time; batches still commit one after another,
    in order. A batch is decoded when it is full, all at once, so that the envelopes of one
    relay batch in it are checked against their signed root together.
    The consumer (``ingest.reader``) is assigned the partitions that have something to read,
    each at its stored offset, and never commits.
    """

    def __init__(
        self,
        conn: psycopg.Connection,
        consumer: confluent_kafka.Consumer,
        partitions: list[TopicPartition],
        start: dict[TopicPartition, Position],
        end: dict[TopicPartition, int],
        batch_size: int,
        report: IngestReport,
        trust: TrustedKeys,
        *,
        save_positions: bool = False,
        deadline: float | None = None,
        gaps: GapCheck,
    ):
        self.conn, self.consumer, self.partitions = conn, consumer, partitions
        self.position = dict(start)
        self.end, self.batch_size, self.report = end, batch_size, report
        self.trust = trust  # the producers' keys: an event they did not sign is a dead letter
        self.messages: list[Message] = []  # read since the last flush, decoded there
        self.last: dict[TopicPartition, tuple[int, bytes | None, bytes | None]] = {}
        self.dirty = save_positions  # e.g. a reset: saved even if nothing is read
        self.deadline = deadline  # time.monotonic() value; None: no limit
        self.gaps = gaps  # tells a partition read to its end when its last offsets hold no record
        self.gap_checked: dict[TopicPartition, float] = {}  # when each was last asked about
        self.gaps_to_end: set[TopicPartition] = set()  # no record from the stored offset on
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-writer")
        self.pending: Future[None] | None = None
        self.trace_context = otel_context.get_current()  # the writer thread's spans join the run
        for tp in partitions:
            report.topic(tp.topic)  # every topic appears in the summary, even when idle

    def consume(self, on_progress: Progress | None) -> None:
        with collector_off():
            try:
                self._consume(on_progress)
                self._wait_for_writer()
            finally:
                self.writer.shutdown(wait=True)
        self._record_lag()

    def _consume(self, on_progress: Progress | None) -> None:
        active = {tp for tp in self.partitions if self.position[tp].next_offset < self.end[tp]}
        start = self.position
        self.consumer.assign(
            [
                confluent_kafka.TopicPartition(tp.topic, tp.partition, start[tp].next_offset)
                for tp in self.partitions
                if tp in active
            ]
        )
        # Not asked before the reader's first fetches had time to answer.
        self.gap_checked = dict.fromkeys(active, time.monotonic())
        done = reported = 0
        while active:
            if self.deadline is not None and time.monotonic() > self.deadline:
                self.flush()  # what was read is committed with its offsets: nothing is lost
                self._wait_for_writer()
                self.report.messages = done
                left = ", ".join(sorted(f"{tp.topic}[{tp.partition}]" for tp in active))
                raise DeadlineExceeded(
                    f"ingest deadline reached with {left} not read to the end (broker down or"
                    f" too slow?); {done} messages read were saved, the next run continues"
                )
            messages = self.consumer.consume(CONSUME_MAX, CONSUME_WAIT_S)
            heard: set[Part] = set()
            for msg in messages:
                # A (topic, partition) tuple finds the TopicPartition keys (named tuples).
                tp = cast(Part, (msg.topic(), msg.partition()))  # set on every message
                error = msg.error()
                if error is not None:
                    check(msg, error)
                    continue
                heard.add(tp)
                offset = cast(int, msg.offset())
                end = self.end[tp]
                if offset >= end:
                    self._finish(tp, active)  # beyond the end seen at start: the next run's
                    continue
                key, value = msg.key(), msg.value()
                self.messages.append((tp[0], tp[1], offset, key, value))
                self.last[tp] = (offset, key, value)
                self.dirty = True
                done += 1
                if offset + 1 >= end:
                    self._finish(tp, active)
            if len(messages) < CONSUME_MAX:  # librdkafka had nothing more at hand
                self._finish_gaps({tp for tp in active if tp not in heard}, active)
            if len(self.messages) >= self.batch_size or not active:
                self.flush()
                if on_progress is not None:
                    on_progress(done - reported)
                    reported = done
        self.flush()
        self.report.messages = done

    def _finish_gaps(self, quiet: set[TopicPartition], active: set[TopicPartition]) -> None:
        """Finish the quiet partitions whose offsets left before the end hold no record.

        The reader delivers records only, so a partition whose last offsets are gaps
        (transaction markers, compaction) never shows its end through a message: ``ingest.gaps``
        is asked instead, at most every ``GAP_CHECK_EVERY_S`` for a partition.
        """
        now = time.monotonic()
        left: dict[TopicPartition, tuple[int, int]] = {}
        for tp in quiet:
            if now - self.gap_checked[tp] >= GAP_CHECK_EVERY_S:
                self.gap_checked[tp] = now
                last = self.last.get(tp)
                left[tp] = (last[0] + 1 if last else self.position[tp].next_offset, self.end[tp])
        for tp in self.gaps.only_gaps(left):
            self.gaps_to_end.add(tp)
            self._finish((tp.topic, tp.partition), active)

    def _finish(self, tp: Part, active: set[TopicPartition]) -> None:
        """A partition read to its end for this run: no more fetches of it."""
        if tp in active:
            active.discard(tp)
            self.consumer.pause([confluent_kafka.TopicPartition(tp[0], tp[1])])

    def flush(self) -> None:
        """Hand the batch to the writer; wait for the previous one first (double buffering)."""
        if not self.dirty:
            return
        events: list[RawEvent] = []
        dead: list[DeadLetter] = []
        for decoded in decode_all(self.messages, self.trust):
            if isinstance(decoded, DeadLetter):
                dead.append(decoded)
            else:
                events.append(decoded)
        self.messages = []
        for tp, (offset, key, value) in self.last.items():
            self.position[tp] = replace(
                self.position[tp], next_offset=offset + 1, last_sha256=message_sha256(key, value)
            )
        self.last = {}
        offsets = {(tp.topic, tp.partition): self.position[tp] for tp in self.partitions}
        self._wait_for_writer()
        self.pending = self.writer.submit(self._write, events, dead, offsets)
        self.dirty = False

    def _write(self, events: list[RawEvent], dead: list[DeadLetter], offsets: Positions) -> None:
        t0 = time.monotonic()
        with tracing.tracer(__name__).start_as_current_span(
            "ingest batch",
            context=self.trace_context,
            kind=SpanKind.CONSUMER,
            attributes={"messaging.batch.message_count": len(events) + len(dead)},
        ) as span:
            if span.is_recording():
                link_events(span, events)
            written = warehouse.write_batch(self.conn, events, dead, offsets)
            span.set_attribute("ingest.batch_id", written.batch_id)
            span.set_attribute("ingest.dead_letters", len(written.dead))
        self.report.batch_seconds.append(time.monotonic() - t0)
        for topic, n in written.inserted.items():
            self.report.topic(topic).rows_written += n
        for d in written.dead:
            self.report.topic(d.topic).dead_letters += 1
        self.report.batches += 1

    def _wait_for_writer(self) -> None:
        if self.pending is not None:
            pending, self.pending = self.pending, None
            pending.result()  # re-raises a failed write here, before anything else is written

    def _record_lag(self) -> None:
        assigned = {(a.topic, a.partition) for a in self.consumer.assignment()}
        for tp in self.partitions:
            latest = self.end[tp]
            if tp in assigned:  # the high watermark of the last fetch (-1: none yet)
                _, high = self.consumer.get_watermark_offsets(
                    confluent_kafka.TopicPartition(tp.topic, tp.partition), cached=True
                )
                latest = max(latest, high)
            # A partition whose last offsets hold no record keeps its offset after its last
            # record (the next run checks the message before it) but has nothing left.
            read_to = self.end[tp] if tp in self.gaps_to_end else self.position[tp].next_offset
            left = latest - read_to
            self.report.topic(tp.topic).lag_left += left
            self.report.partition_lag[(tp.topic, tp.partition)] = left


def link_events(span: Span, events: list[RawEvent]) -> None:
    """Link the batch's span to the trace in each event's envelope (the command that caused it)."""
    for event in events:
        traceparent = orjson.loads(event.trace).get("traceparent")
        context = tracing.parse_traceparent(traceparent)
        if context is not None:
            span.add_link(context)  # no attributes: they cost more than the link itself
