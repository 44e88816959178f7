"""Ingest rate (Kafka -> raw tables, exactly once) against a plain COPY of the same rows.

Produces 200,000 realistic events across the four topics into the embedded Tansu broker
once, signed as the services' outbox relays sign them (one signature per relay batch of 500
per producer, each message carrying its Merkle proof). Then three times: runs the ingest job
from the first offset, empties the raw layer and COPYs the same rows into the same
partitioned raw tables (median of three COPYs): the local limit, and empties the raw layer
for the next run. Prints each run with the load average around it, then the cost per event
of each stage of the ingest measured alone on a sample, and last
``ratio=<median of ingest events/s / copy rows/s>`` (judged against 0.6).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import confluent_kafka
import orjson
import psycopg
from kafka import KafkaProducer

from bench.events import event_stream
from config.settings import Settings
from contracts.catalog import TOPICS, raw_table
from contracts.envelope import validate
from contracts.key_files import dev_signers, trusted_keys
from contracts.signatures import TrustedKeys, leaf_hash
from database import connections
from database.names import WAREHOUSE_DATABASE
from ingest.batches import collector_off
from ingest.decode import Message, decode_all
from ingest.job import make_consumer, run_ingest
from ingest.positions import partitions_of, start_positions
from ingest.reader import make_reader
from ingest.report import IngestReport
from ingest.warehouse import RAW_COLUMNS
from tests.support.throwaway_stack import throwaway_stack

BAR = 0.6  # ingest events/s against COPY rows/s


def produce(settings: Settings, count: int) -> float:
    signers = dev_signers(settings)  # signed as the relays sign: the ingest verifies each
    producer = KafkaProducer(
        bootstrap_servers=settings.bootstrap_servers,
        enable_idempotence=True,
        acks="all",
        linger_ms=20,
        batch_size=512 * 1024,
        max_request_size=8 * 1024 * 1024,
    )
    t0 = time.perf_counter()
    size = 0
    for event in event_stream(count, signers=signers):
        value = orjson.dumps(event)
        size += len(value)
        producer.send(event["event_type"], key=event["aggregate_id"].encode(), value=value)
    producer.flush()
    producer.close()
    print(f"produced {count} events ({size / count:.0f} B mean) in {time.perf_counter() - t0:.1f}s")
    return size / count


def ingested_rows(conn: psycopg.Connection) -> list[tuple[Any, ...]]:
    """The rows as the ingest hands them to PostgreSQL: JSON columns as text."""
    union = " union all ".join(f"select * from raw.{t.replace('.', '_')}" for t in TOPICS)
    cols = ", ".join(RAW_COLUMNS)
    select = cols.replace("trace", "trace::text").replace("payload", "payload::text")
    return conn.execute(f"select {select} from ({union}) as r").fetchall()


def copy_rate(conn: psycopg.Connection, rows: Sequence[tuple[Any, ...]]) -> float:
    """Rows/s of COPY of ``rows`` into the emptied raw tables they came from (partitioned,
    keys and indexes included), one COPY per table in one transaction; emptied after."""
    topic = RAW_COLUMNS.index("kafka_topic")
    by_table: dict[str, list[tuple[Any, ...]]] = {}
    for row in rows:
        by_table.setdefault(raw_table(row[topic]), []).append(row)
    empty_raw_layer(conn)
    t0 = time.perf_counter()
    for table, table_rows in by_table.items():
        with conn.cursor().copy(f"copy raw.{table} ({', '.join(RAW_COLUMNS)}) from stdin") as copy:
            for row in table_rows:
                copy.write_row(row)
    conn.commit()
    rate = len(rows) / (time.perf_counter() - t0)
    empty_raw_layer(conn)
    return rate


def empty_raw_layer(conn: psycopg.Connection) -> None:
    """Every table of the ``raw`` schema emptied (rows, dead letters, dedupe, offsets)."""
    tables = conn.execute(
        "select format('%I.%I', schemaname, tablename) from pg_tables where schemaname = 'raw'"
    ).fetchall()
    conn.execute(f"truncate {', '.join(t for (t,) in tables)}")
    conn.commit()


@dataclass(frozen=True)
class Run:
    ingest_eps: float
    copy_rps: float
    write_us: float  # the writer thread's time per row (overlaps decoding)
    load: tuple[float, float]  # 1-minute load average before and after

    @property
    def ratio(self) -> float:
        return self.ingest_eps / self.copy_rps


def one_run(settings: Settings, events: int, batch_size: int, workers: int | None) -> Run:
    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    report = run_ingest(settings, batch_size=batch_size, workers=workers)
    ingest_s = time.perf_counter() - t0
    written = sum(t.rows_written for t in report.topics.values())
    assert written == events, f"ingested {written} of {events}"
    with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
        rows = ingested_rows(conn)
        copy_rps = statistics.median(copy_rate(conn, rows) for _ in range(3))
        empty_raw_layer(conn)
    run = Run(
        written / ingest_s,
        copy_rps,
        sum(report.batch_seconds) / written * 1e6,
        (load_before, os.getloadavg()[0]),
    )
    print(
        f"run: ingest {written} events in {ingest_s:.1f}s ({report.batches} batches,"
        f" {report.workers} process(es)) ingest_eps={run.ingest_eps:.0f}"
        f" copy_rps={run.copy_rps:.0f} (median of 3) ratio={run.ratio:.2f}"
        f" load={run.load[0]:.1f}->{run.load[1]:.1f}"
    )
    return run


def per_event_us(work: Callable[[], object], count: int) -> float:
    """Median of three timed passes, in microseconds per event.

    With the cyclic collector off, as the ingest runs its pass (``ingest.batches``): with it
    on, each pass would also pay for rescanning every object the earlier ones left."""
    times = []
    with collector_off():
        for _ in range(3):
            t0 = time.perf_counter()
            work()
            times.append((time.perf_counter() - t0) / count * 1e6)
    return statistics.median(times)


def fetch_us(settings: Settings) -> tuple[float, float]:
    """The ingest's reader alone (librdkafka): every message read to the partitions' ends,
    none decoded. Wall time and this thread's CPU time, in microseconds a message."""
    probe = make_consumer(settings)
    try:
        partitions = partitions_of(probe, TOPICS)
        probe.assign(partitions)
        _, end, _ = start_positions(probe, partitions, {}, dict.fromkeys(TOPICS), IngestReport())
    finally:
        probe.close()
    reader = make_reader(settings)
    try:
        reader.assign(
            [
                confluent_kafka.TopicPartition(
                    tp.topic, tp.partition, confluent_kafka.OFFSET_BEGINNING
                )
                for tp in partitions
            ]
        )
        # The bench's partitions end on a record (no transactions): read until that one.
        left = {(tp.topic, tp.partition): end[tp] for tp in partitions if end[tp] > 0}
        read = 0
        t0 = c0 = 0.0
        while left:
            for msg in reader.consume(5000, 1.0):
                if msg.error() is None:
                    if not read:
                        t0, c0 = time.perf_counter(), time.thread_time()  # first message in
                    read += 1
                    msg.key(), msg.value()
                    tp, offset = (msg.topic() or "", msg.partition() or 0), msg.offset() or 0
                    if tp in left and offset + 1 >= left[tp]:
                        del left[tp]
        return (
            (time.perf_counter() - t0) / read * 1e6,
            (time.thread_time() - c0) / read * 1e6,
        )
    finally:
        reader.close()


def stage_costs(settings: Settings, sample: int) -> dict[str, float]:
    """Microseconds per event of each stage, each timed alone on the same sample."""
    trust = trusted_keys(settings)
    signers = dev_signers(settings)
    events = list(event_stream(sample, signers=signers))  # the produced ones
    values = [orjson.dumps(e) for e in events]
    parsed = [orjson.loads(v) for v in values]
    per_event = [signers[e["producer"]].sign(e) for e in parsed]  # version 1, for reference
    messages: list[Message] = [
        (e["event_type"], 0, i, e["aggregate_id"].encode(), v)
        for i, (e, v) in enumerate(zip(events, values, strict=True))
    ]
    n = len(events)

    def fresh() -> TrustedKeys:  # no root verified yet: each pass pays for its roots
        return TrustedKeys(trust.by_id.values())

    def check(keys: TrustedKeys, sample: list[dict[str, Any]]) -> None:
        assert not any(keys.refusals(sample))  # the sample as one write batch, as ingest does

    whole = fresh()  # as one ingest run holds it: each root verified on its first event

    fetch_wall, fetch_cpu = fetch_us(settings)
    return {
        "Kafka fetch to the partitions' ends (librdkafka), wall": fetch_wall,
        "  of which this thread's CPU (what holds the interpreter)": fetch_cpu,
        "JSON decode (orjson)": per_event_us(lambda: [orjson.loads(v) for v in values], n),
        "contract validation (jsonschema-rs)": per_event_us(
            lambda: [validate(e) for e in parsed], n
        ),
        "leaf hash (sorted orjson + SHA-256)": per_event_us(
            lambda: [leaf_hash(e) for e in parsed], n
        ),
        "batch signature check (group fold + 1 Ed25519 per root; used)": per_event_us(
            lambda: check(fresh(), parsed), n
        ),
        "per-event signature check (version 1; reference)": per_event_us(
            lambda: check(fresh(), per_event), n
        ),
        "whole decode(): all checks and the row": per_event_us(
            lambda: decode_all(messages, whole), n
        ),
    }


def spread(values: list[float], fmt: str = ".0f") -> str:
    return f"{statistics.median(values):{fmt}} ({min(values):{fmt}}-{max(values):{fmt}})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch-size", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sample", type=int, default=5000, help="events timed stage by stage")
    parser.add_argument("--workers", type=int, default=None, help="default: the job's own choice")
    args = parser.parse_args()
    print(f"{os.cpu_count()} cores; load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    with throwaway_stack() as settings:
        # Produced by another process, so this one measures the ingest as `cqrsw ingest` runs
        # it: a fresh process, not one holding the producer's leftovers.
        producer = multiprocessing.get_context("spawn").Process(
            target=produce, args=(settings, args.events)
        )
        producer.start()
        producer.join()
        assert producer.exitcode == 0, "producing the events failed"
        runs = [
            one_run(settings, args.events, args.batch_size, args.workers) for _ in range(args.runs)
        ]
        stages = stage_costs(settings, min(args.sample, args.events))
    print("per event, each stage timed alone on a sample (median of 3 passes):")
    for label, us in stages.items():
        print(f"  {label:58s} {us:7.1f} us")
    print(f"  {'writer thread per row (overlaps decoding; median of runs)':58s}"
          f" {statistics.median(r.write_us for r in runs):7.1f} us")  # fmt: skip
    copy_rps = statistics.median(r.copy_rps for r in runs)
    budget = 1e6 / (BAR * copy_rps)
    print(
        f"  {'COPY per row (median of runs)':58s} {1e6 / copy_rps:7.1f} us\n"
        f"the bar ({BAR}x COPY) allows {budget:.1f} us an event in all;"
        f" the batch signature check takes"
        f" {stages['batch signature check (group fold + 1 Ed25519 per root; used)']:.1f} us"
    )
    print(
        f"medians (range) of {len(runs)} runs: ingest_eps={spread([r.ingest_eps for r in runs])}"
        f" copy_rps={spread([r.copy_rps for r in runs])}"
        f" load={spread([x for r in runs for x in r.load], '.1f')}"
    )
    print(f"ratio={statistics.median(r.ratio for r in runs):.2f}"
          f" ({min(r.ratio for r in runs):.2f}-{max(r.ratio for r in runs):.2f})")  # fmt: skip


if __name__ == "__main__":
    main()
