"""Ingest rate (Kafka -> raw tables, exactly once) against a plain COPY of the same rows.

Produces 200,000 realistic events across the four topics into the embedded Tansu broker,
runs the ingest job, then, in the same run on the same PostgreSQL, COPYs the same rows
into an empty table of the same shape (primary key included): the local limit.
Last line: ``ratio=<ingest events/s / copy rows/s>`` (judged against 0.5 at least).
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import time

import orjson
from kafka import KafkaProducer

from bench.events import event_stream
from config.settings import Settings
from contracts.catalog import TOPICS
from contracts.key_files import dev_signers
from database import connections
from database.names import WAREHOUSE_DATABASE
from ingest.job import run_ingest
from ingest.warehouse import RAW_COLUMNS
from tests.support.throwaway_stack import throwaway_stack


def produce(settings: Settings, count: int) -> float:
    signers = dev_signers(settings)  # signed as the services sign: the ingest verifies each
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


def copy_baseline(settings: Settings) -> float:
    """Rows/s of COPY of the ingested rows into an empty table with the same shape and key."""
    rates = []
    with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
        union = " union all ".join(f"select * from raw.{t.replace('.', '_')}" for t in TOPICS)
        cols = ", ".join(RAW_COLUMNS)
        # The rows as the ingest hands them to PostgreSQL: JSON columns as text.
        select = cols.replace("trace", "trace::text").replace("payload", "payload::text")
        rows = conn.execute(f"select {select} from ({union}) as r").fetchall()
        for _ in range(3):
            conn.execute("drop table if exists public.copy_baseline")
            conn.execute("create table public.copy_baseline (like raw.order_created including all)")
            conn.commit()
            t0 = time.perf_counter()
            with conn.cursor().copy(f"copy public.copy_baseline ({cols}) from stdin") as copy:
                for row in rows:
                    copy.write_row(row)
            conn.commit()
            rates.append(len(rows) / (time.perf_counter() - t0))
        conn.execute("drop table public.copy_baseline")
        conn.commit()
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch-size", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=None, help="default: the job's own choice")
    args = parser.parse_args()
    with throwaway_stack() as settings:
        # Produced by another process, so this one measures the ingest as `cqrsw ingest` runs
        # it: a fresh process, not one holding the producer's leftovers.
        producer = multiprocessing.get_context("spawn").Process(
            target=produce, args=(settings, args.events)
        )
        producer.start()
        producer.join()
        assert producer.exitcode == 0, "producing the events failed"
        t0 = time.perf_counter()
        report = run_ingest(settings, batch_size=args.batch_size, workers=args.workers)
        ingest_s = time.perf_counter() - t0
        written = sum(t.rows_written for t in report.topics.values())
        assert written == args.events, f"ingested {written} of {args.events}"
        ingest_eps = written / ingest_s
        print(
            f"ingest: {written} events in {ingest_s:.1f}s, {report.batches} batches,"
            f" {report.workers} process(es)"
        )
        copy_rps = copy_baseline(settings)
    print(f"ratio={ingest_eps / copy_rps:.2f} ingest_eps={ingest_eps:.0f} copy_rps={copy_rps:.0f}")


if __name__ == "__main__":
    main()
