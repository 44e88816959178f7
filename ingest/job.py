"""``cqrsw ingest``: read each partition from its stored offset to the end seen at start.

Partitions are assigned explicitly (no consumer group); offsets live in the warehouse and are
committed in the same transaction as the rows, so a crash at any point followed by a re-run
gives the same raw tables as one uninterrupted run. A large backlog is split by partition
over worker processes (each partition has exactly one writer), because decoding in Python
is what limits one process.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import queue
import signal
import sys
import time
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, replace
from functools import partial
from multiprocessing.queues import Queue
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from config import tracing
from config.database_settings import DbRole
from config.settings import Settings
from contracts.catalog import TOPICS
from contracts.key_files import trusted_keys
from database import connections
from database.locks import INGEST_LOCK
from database.names import WAREHOUSE_DATABASE
from ingest import metrics, raw_partitions, warehouse
from ingest.batches import PartitionRun
from ingest.gaps import GapCheck
from ingest.positions import partitions_of, start_positions, topic_ids
from ingest.reader import make_admin, make_reader
from ingest.report import IngestReport
from ingest.warehouse import Position

Progress = Callable[[int, int], None]  # (messages read so far, messages to read)

WORKER_THRESHOLD = 20_000  # below this backlog, starting worker processes costs more than it saves


def default_workers(backlog: int) -> int:
    """One process per two cores beyond the first two, for a large backlog.

    PostgreSQL and the broker need CPU too: on a 2-core machine a second Python process
    only competes with them (measured: slower), so there it stays one.
    """
    cores = os.cpu_count() or 1
    return 1 if backlog < WORKER_THRESHOLD or cores <= 2 else min(4, cores // 2)


class IngestBusy(RuntimeError):
    """Another ingest run holds the warehouse's ingest lock."""


@dataclass(frozen=True)
class Slice:
    """The partitions one process ingests: (topic, partition, start, end offset)."""

    partitions: tuple[tuple[str, int, Position, int], ...]
    save_positions: bool
    deadline: float | None = None  # time.monotonic() (one clock for all processes on a host)


def consumer_config(settings: Settings) -> dict[str, Any]:
    """The planning KafkaConsumer's arguments: no group, large fetches, SASL/TLS from settings.

    It probes the partitions (``ingest.positions``); ``ingest.reader`` reads them, and
    ``ingest.gaps`` asks one made like it where a partition's last offsets hold no record."""
    return {
        "bootstrap_servers": settings.bootstrap_servers,
        **settings.kafka_client_options(),
        "group_id": None,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "max_poll_records": 5000,
        "max_partition_fetch_bytes": 16 * 1024 * 1024,
        "fetch_max_bytes": 64 * 1024 * 1024,
        "request_timeout_ms": 30_000,
    }


def make_consumer(settings: Settings) -> KafkaConsumer:
    return KafkaConsumer(**consumer_config(settings))


def make_gap_consumer(settings: Settings) -> KafkaConsumer:
    """The consumer ``ingest.gaps`` asks: the planning one's settings, small fetches (it looks
    at a partition's first record from an offset, if any, not at its backlog), and a short
    wait for a broker it cannot reach (the reader's loop, and its deadline, wait on it)."""
    config = consumer_config(settings)
    return KafkaConsumer(
        **{**config, "max_partition_fetch_bytes": 256 * 1024, "bootstrap_timeout_ms": 5000}
    )


def run_ingest(
    settings: Settings,
    *,
    topics: tuple[str, ...] = TOPICS,
    batch_size: int = 5000,
    on_progress: Progress | None = None,
    workers: int | None = None,
) -> IngestReport:
    """Ingest every partition up to its end offset at start; return what was written and left.

    The run ends by ``settings.ingest_deadline_s``: past it, it commits what it read and
    raises ``DeadlineExceeded``.
    """
    started = time.monotonic()
    report = IngestReport()
    trusted_keys(settings)  # no trusted keys (prod): refuse before touching anything
    with (
        tracing.tracer(__name__).start_as_current_span("ingest") as span,
        connections.connect(
            settings, WAREHOUSE_DATABASE, autocommit=True, role=DbRole.INGEST
        ) as lock,
    ):
        held = lock.execute("select pg_try_advisory_lock(%s)", (INGEST_LOCK,)).fetchone()
        if not held or not held[0]:
            raise IngestBusy("another ingest run is in progress on this warehouse; try again later")
        raw_partitions.create_partitions(lock)
        slices, total = _plan(settings, topics, report, workers)
        slices = [replace(s, deadline=started + settings.ingest_deadline_s) for s in slices]
        if len(slices) == 1:
            seen = 0

            def progress(n: int) -> None:
                nonlocal seen
                seen += n
                if on_progress is not None:
                    on_progress(seen, total)

            report.merge(ingest_slice(settings, slices[0], batch_size, progress))
        elif slices:
            _run_workers(settings, slices, batch_size, report, total, on_progress)
        span.set_attribute("ingest.messages", report.messages)
    report.seconds = time.monotonic() - started
    metrics.record(report)
    metrics.write_textfile(settings.state_dir / "metrics" / "ingest.prom")
    return report


def _plan(
    settings: Settings, topics: tuple[str, ...], report: IngestReport, workers: int | None
) -> tuple[list[Slice], int]:
    """Probe the broker, then split the partitions over processes by backlog."""
    consumer = make_consumer(settings)
    try:
        partitions = partitions_of(consumer, topics)
        if not partitions:
            return [], 0
        consumer.assign(partitions)
        with connections.connect(settings, WAREHOUSE_DATABASE, role=DbRole.INGEST) as conn:
            stored = warehouse.stored_offsets(conn)
        with make_admin(settings) as admin:
            ids = topic_ids(admin, sorted({tp.topic for tp in partitions}))
        start, end, reset = start_positions(consumer, partitions, stored, ids, report)
    finally:
        consumer.close()
    backlog = {tp: end[tp] - start[tp].next_offset for tp in partitions}
    total = sum(backlog.values())
    if workers is None:
        workers = default_workers(total)
    workers = max(1, min(workers, len(partitions)))
    shares: list[list[TopicPartition]] = [[] for _ in range(workers)]
    loads = [0] * workers
    for tp in sorted(partitions, key=lambda tp: -backlog[tp]):  # biggest backlog first
        i = loads.index(min(loads))
        shares[i].append(tp)
        loads[i] += backlog[tp]
    slices = [
        Slice(
            tuple((tp.topic, tp.partition, start[tp], end[tp]) for tp in share),
            save_positions=any(tp in reset for tp in share),
        )
        for share in shares
    ]
    report.workers = len(slices)
    return slices, total


def ingest_slice(
    settings: Settings, piece: Slice, batch_size: int, on_progress: Callable[[int], None] | None
) -> IngestReport:
    """Ingest one slice of partitions in this process."""
    report = IngestReport()
    partitions = [TopicPartition(t, p) for t, p, _, _ in piece.partitions]
    start = {TopicPartition(t, p): pos for t, p, pos, _ in piece.partitions}
    end = {TopicPartition(t, p): e for t, p, _, e in piece.partitions}
    trust = trusted_keys(settings)  # read at each run: a rotated key set needs no restart
    consumer = make_reader(settings)
    gaps = GapCheck(partial(make_gap_consumer, settings))
    try:
        with connections.connect(settings, WAREHOUSE_DATABASE, role=DbRole.INGEST) as conn:
            run = PartitionRun(
                conn, consumer, partitions, start, end, batch_size, report, trust,
                save_positions=piece.save_positions, deadline=piece.deadline, gaps=gaps,
            )  # fmt: skip
            run.consume(on_progress)
    finally:
        consumer.close()
        gaps.close()
    return report


# -- worker processes ---------------------------------------------------------------------------
_progress_queue: Queue[int] | None = None


def _init_worker(progress: Queue[int]) -> None:
    global _progress_queue
    _progress_queue = progress
    if sys.platform == "linux":
        # Die with the parent: a killed `cqrsw ingest` must not leave writers behind.
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _worker(settings: Settings, piece: Slice, batch_size: int) -> IngestReport:
    progress = _progress_queue
    return ingest_slice(settings, piece, batch_size, progress.put if progress else None)


def _run_workers(
    settings: Settings,
    slices: list[Slice],
    batch_size: int,
    report: IngestReport,
    total: int,
    on_progress: Progress | None,
) -> None:
    context = multiprocessing.get_context("spawn")  # no fork of a process with threads
    progress: Queue[int] = context.Queue()
    seen = 0
    with ProcessPoolExecutor(
        len(slices), mp_context=context, initializer=_init_worker, initargs=(progress,)
    ) as pool:
        futures: list[Future[IngestReport]] = [
            pool.submit(_worker, settings, piece, batch_size) for piece in slices
        ]
        while not all(f.done() for f in futures):
            wait(futures, timeout=0.2, return_when=FIRST_EXCEPTION)
            if any(f.done() and f.exception() for f in futures):
                break
            try:
                while True:
                    seen += progress.get_nowait()
            except queue.Empty:
                pass
            if on_progress is not None:
                on_progress(seen, total)
        for future in futures:
            report.merge(future.result())  # re-raises a worker's failure
