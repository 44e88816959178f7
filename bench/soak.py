"""Soak: steady load while the pipeline runs pass after pass; then the invariants.

Starts its own stack with the services on free ports, sends seeded traffic for
``--duration`` seconds at ``--rate`` and meanwhile runs ``run_pipeline`` in a loop, as the
scheduled DAG would (one more pass once the load and the outboxes are done). Reports:
events/s ingested, command-to-visible freshness (from the answer to the end of the first
publish after its event reached raw) p50/p95, and whether every invariant holds. Prints
``invariants=ok`` or ``invariants=FAILED`` last; with ``--write`` appends a row to
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from psycopg import sql

from contracts.catalog import TOPICS, raw_table
from database import connections
from database.names import WAREHOUSE_DATABASE
from database.warehouse import RAW_SCHEMA
from loadtest.invariants import check
from loadtest.loadgen import LoadGenerator, read_record
from loadtest.traffic import Traffic
from pipeline.steps import run_pipeline
from stack.lifecycle import Stack
from tests.support.faults import wait_for_outboxes
from tests.support.throwaway_stack import free_port, throwaway_stack

BENCHMARKS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def _ingested_at(settings: Any) -> dict[str, datetime]:
    """When each event (by request id) reached raw."""
    found: dict[str, datetime] = {}
    with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
        for topic in TOPICS:
            table = sql.Identifier(RAW_SCHEMA, raw_table(topic))
            query = sql.SQL("select request_id, ingested_at from {}").format(table)
            found.update(conn.execute(query).fetchall())
    return found


def soak(rate: float, duration: float, seed: int) -> dict[str, Any]:
    ports: dict[str, Any] = {f"{n}_port": free_port() for n in ("orders", "invoices", "stock")}
    ports["read_api_port"] = free_port()
    with (
        tempfile.TemporaryDirectory() as scratch,
        throwaway_stack(relay_enabled=True, jwt_secret="soak-secret-0123456789abcdef0", **ports)
        as settings,
    ):  # fmt: skip
        Stack(settings).up(services=True)
        record = Path(scratch) / "load.jsonl"
        published: list[datetime] = []
        with record.open("w") as out:
            load = LoadGenerator(settings, Traffic(seed), out, concurrency=8)
            sender = threading.Thread(target=load.run, args=(rate, duration, lambda _: None))
            began = time.monotonic()
            sender.start()
            while sender.is_alive():
                run_pipeline(settings)
                published.append(datetime.now(UTC))
            sender.join()
        wait_for_outboxes(settings)
        run_pipeline(settings)
        published.append(datetime.now(UTC))
        elapsed = time.monotonic() - began
        records = read_record(record)
        report = check(settings, records, strict=True, reads=True)
        reached = _ingested_at(settings)
    freshness = []
    for r in records:
        at = reached.get(r["id"])
        if at is None or r.get("status") not in (200, 201):
            continue
        visible = next((p for p in published if p >= at), None)
        if visible is not None:
            freshness.append((visible - datetime.fromisoformat(r["answered_at"])).total_seconds())
    q = statistics.quantiles(freshness, n=20) if len(freshness) > 1 else [0.0] * 19
    return {
        "commands": len(records),
        "events": len(reached),
        "events_per_s": len(reached) / elapsed,
        "passes": len(published),
        "fresh_p50": statistics.median(freshness) if freshness else 0.0,
        "fresh_p95": q[18],
        "ok": report.ok,
        "lines": report.lines(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--duration", type=float, default=180.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--write", action="store_true", help="append the figures to the docs")
    args = parser.parse_args()
    result = soak(args.rate, args.duration, args.seed)
    for line in result["lines"]:
        print(line)
    row = (
        f"| {datetime.now(UTC):%Y-%m-%d} | `make soak` (rate {args.rate:g}/s, {args.duration:g} s,"
        f" seed {args.seed}) | {result['commands']} | {result['events']} |"
        f" {result['events_per_s']:.1f} | {result['passes']} | {result['fresh_p50']:.1f} |"
        f" {result['fresh_p95']:.1f} | {'hold' if result['ok'] else 'VIOLATED'} |"
    )
    print(row)
    if args.write:
        with BENCHMARKS.open("a") as docs:
            docs.write(row + "\n")
    print(f"invariants={'ok' if result['ok'] else 'FAILED'}")
    raise SystemExit(0 if result["ok"] else 1)


if __name__ == "__main__":
    main()
