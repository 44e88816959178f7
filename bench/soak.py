"""Soak: steady load on the stack `make up` runs, Airflow publishing continuously, while
faults strike at seeded random times; then every invariant.

Starts its own stack on free ports (services, relays, Tansu, PostgreSQL, Airflow's
scheduler, dag-processor, triggerer and api-server with the `@continuous` pipeline DAG),
kept up by the supervisor of `cqrsw stack up --supervise`. Sends seeded traffic for
``--duration`` seconds at ``--rate``; meanwhile each fault of the Airflow fault suite
(tests/support/airflow_faults.py: SIGKILL of the scheduler, the triggerer, a dbt build, the
ingest mid-batch, PostgreSQL during publish, the broker during ingest; SIGSTOP of a
service) strikes once, at a time drawn from ``--seed``. Then it waits for the pipeline to
catch up by itself and checks every invariant (`cqrsw check --strict --reads`).

Reports: commands, events ingested, publications, command-to-visible freshness p50/p95
over the whole soak (from the 2xx answer to the end of the first publication after the
event reached raw), each fault's pause (from the fault to the first publication after
the stack was whole again) and the worst, and the load average. Prints, last, the worst
pause over the bound it is judged by and ``invariants=ok`` or ``invariants=FAILED``; with
``--write`` appends a row to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from psycopg import sql

from contracts.catalog import TOPICS, raw_table
from database import connections
from database.names import WAREHOUSE_DATABASE
from database.warehouse import RAW_SCHEMA
from tests.support.airflow_faults import (
    FAULTS,
    RESUME_BOUND_S,
    at_random,
    describe,
    supervised_airflow_stack,
    under_load,
)

BENCHMARKS = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
HEADER = "| date | command | commands | events | events/s | publications | fresh p50 s |"


def add_row(docs: Path, row: str) -> None:
    """Append ``row`` to the soak's table (the one whose header starts with HEADER)."""
    lines = docs.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(HEADER))
    end = start
    while end + 1 < len(lines) and lines[end + 1].startswith("|"):
        end += 1
    lines.insert(end + 1, row)
    docs.write_text("\n".join(lines) + "\n")


def _ingested_at(settings: Any) -> dict[str, datetime]:
    """When each event (by request id) reached raw."""
    found: dict[str, datetime] = {}
    with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
        for topic in TOPICS:
            table = sql.Identifier(RAW_SCHEMA, raw_table(topic))
            query = sql.SQL("select request_id, ingested_at from {}").format(table)
            found.update(conn.execute(query).fetchall())
    return found


def _publications(settings: Any) -> list[datetime]:
    with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
        rows = conn.execute(
            "select distinct published_at from ops.view_publications order by 1"
        ).fetchall()
    return [row[0] for row in rows]


def soak(rate: float, duration: float, seed: int, faults: list[str]) -> dict[str, Any]:
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as scratch, supervised_airflow_stack() as watch:
        outcome = under_load(
            watch,
            Path(scratch) / "load.jsonl",
            at_random(faults, duration, seed),
            rate=rate,
            seed=seed,
            settle_s=0.0,
        )
        reached = _ingested_at(watch.settings)
        published = _publications(watch.settings)
    load_after = os.getloadavg()
    freshness = []
    for r in outcome.records:
        at = reached.get(r["id"])
        if at is None or r.get("status") not in (200, 201):
            continue
        visible = next((p for p in published if p >= at), None)
        if visible is not None:
            freshness.append((visible - datetime.fromisoformat(r["answered_at"])).total_seconds())
    q = statistics.quantiles(freshness, n=20) if len(freshness) > 1 else [0.0] * 19
    pauses = [i.pause_s for i in outcome.injected if i.pause_s is not None]
    return {
        "commands": len(outcome.records),
        "events": len(reached),
        "events_per_s": len(reached) / outcome.seconds,
        "passes": len(published),
        "fresh_p50": statistics.median(freshness) if freshness else 0.0,
        "fresh_p95": q[18],
        "pauses": pauses,
        "worst_pause": max(pauses, default=0.0),
        "load": (load_before[0], load_after[0]),
        "ok": outcome.report.ok,
        "lines": describe(outcome),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--duration", type=float, default=600.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--faults",
        default=",".join(FAULTS),
        help=f"comma-separated, each once; empty for none (default: {','.join(FAULTS)})",
    )
    parser.add_argument("--write", action="store_true", help="append the figures to the docs")
    args = parser.parse_args()
    names = [name for name in args.faults.split(",") if name]
    unknown = sorted(set(names) - set(FAULTS))
    if unknown:
        parser.error(f"unknown faults {unknown}; known: {', '.join(FAULTS)}")
    result = soak(args.rate, args.duration, args.seed, names)
    for line in result["lines"]:
        print(line)
    pauses = sorted(result["pauses"])
    median_pause = statistics.median(pauses) if pauses else 0.0
    row = (
        f"| {datetime.now().astimezone():%Y-%m-%d} | `make soak` (rate {args.rate:g}/s,"
        f" {args.duration:g} s, seed {args.seed}, {len(names)} faults; load average"
        f" {result['load'][0]:.1f} before, {result['load'][1]:.1f} after) |"
        f" {result['commands']} | {result['events']} | {result['events_per_s']:.1f} |"
        f" {result['passes']} | {result['fresh_p50']:.1f} | {result['fresh_p95']:.1f} |"
        f" {median_pause:.0f} / {result['worst_pause']:.0f} |"
        f" {'hold' if result['ok'] else 'VIOLATED'} |"
    )
    print(row)
    if args.write:
        add_row(BENCHMARKS, row)
    print(
        f"worst pause after a fault / bound = {result['worst_pause']:.0f} s /"
        f" {RESUME_BOUND_S:.0f} s = {result['worst_pause'] / RESUME_BOUND_S:.2f};"
        f" invariants={'ok' if result['ok'] else 'FAILED'}"
    )
    raise SystemExit(0 if result["ok"] else 1)


if __name__ == "__main__":
    main()
