"""A whole pipeline pass after 10,000 new events, on 100,000 and on 10,000,000 of history.

What ``cqrsw pipeline run`` does after its ingest: ``dbt build`` with the pipeline's data
tests, the Great Expectations gate, publish to ``serving``, the freshness record. Two
throwaway PostgreSQL servers get the history (the generator of ``bench.dbt_incremental``,
written in SQL inside the server, with time steps that spread 10,000,000 events over about
nine months so no event lies in the future) and one untimed pass. Then, alternating between
the two so the machine's background load weighs on both alike, three times: one
transaction adds 10,000 events (one ingest batch) and the pass is timed step by step.
Printed: each step's median and spread, the warehouse's disk per million events, and last
the ratio of the median passes (large / small), near 1 when a pass costs what is new.

    .venv/bin/python -m bench.whole_pass [--large N] [--keep DIR]

``--keep DIR`` keeps the large history's server in DIR: a second invocation finds it
seeded, runs one untimed pass, then the timed ones. ``--large`` changes the large history
(default 10,000,000).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from psycopg import sql

from bench.dbt_incremental import ENVELOPE, EVENTS, MIX, NEW_EVENTS, spread
from config.settings import Settings
from database import connections
from database.names import WAREHOUSE_DATABASE
from pipeline.steps import dbt_build_step, publish_step, record_freshness_step, validate_step
from tests.support.throwaway_stack import throwaway_stack

SMALL = 100_000
LARGE = 10_000_000
RUNS = 3
# Seconds between two events of a table: 10,000,000 events end about nine months after
# 2026-01-01, before today, as the gate wants (no event from the future).
STEPS = {
    "order_created": "6 seconds",
    "invoice_created": "8 seconds",
    "order_cancelled": "48 seconds",
    "stock_updated": "10 seconds",
}
FIRST_COPY_TIMEOUT_S = 3600.0
PASS_STEPS = ("dbt build", "gate", "publish", "freshness record")


class History:
    """Raw events of one warehouse; the counts per table say where the next ones start."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.counts = dict.fromkeys(MIX, 0)
        with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
            for table in MIX:
                query = sql.SQL("select count(*) from {}").format(sql.Identifier("raw", table))
                row = conn.execute(query).fetchone()
                self.counts[table] = int(row[0]) if row else 0

    @property
    def events(self) -> int:
        return sum(self.counts.values())

    def add(self, events: int) -> None:
        """Add ``events`` events in ONE transaction, like one ingest batch."""
        share = sum(MIX.values())
        stops = {t: self.counts[t] + events * n // share for t, n in MIX.items()}
        with connections.connect(self.settings, WAREHOUSE_DATABASE) as conn:
            for table in MIX:
                statement = ENVELOPE.format(table=table, **{**EVENTS[table], "step": STEPS[table]})
                params = {
                    "start": self.counts[table],
                    "stop": stops[table],
                    "orders": max(stops["order_created"], 1),
                }
                conn.execute(statement.encode(), params)
            conn.commit()
        self.counts = stops
        with connections.connect(self.settings, WAREHOUSE_DATABASE, autocommit=True) as conn:
            conn.execute("analyze")  # what autovacuum would do after a load


def one_pass(settings: Settings, label: str) -> dict[str, float]:
    """The pipeline's pass less its ingest, each step timed."""
    times: dict[str, float] = {}

    def timed(step: str, action: Callable[[], Any]) -> Any:
        started = time.perf_counter()
        result = action()
        times[step] = time.perf_counter() - started
        return result

    timed("dbt build", lambda: dbt_build_step(settings))
    timed("gate", lambda: validate_step(settings))
    published = timed("publish", lambda: publish_step(settings))
    timed("freshness record", lambda: record_freshness_step(settings, published, "bench", label))
    return times


def disk(settings: Settings) -> dict[str, int]:
    """Bytes on disk of the warehouse and of its raw, marts and serving schemas."""
    with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
        total = conn.execute("select pg_database_size(current_database())").fetchone()
        rows = conn.execute(
            "select n.nspname, sum(pg_total_relation_size(c.oid))::bigint from pg_class as c"
            " join pg_namespace as n on n.oid = c.relnamespace"
            " where n.nspname in ('raw', 'marts', 'serving') and c.relkind in ('r', 'm')"
            " group by n.nspname"
        ).fetchall()
    assert total is not None
    return {"warehouse": int(total[0]), **{name: int(size) for name, size in rows}}


class Size:
    """One warehouse with ``existing`` events of history and one untimed pass behind it."""

    def __init__(self, settings: Settings, existing: int) -> None:
        self.settings, self.existing = settings, existing
        self.history = History(settings)
        if self.history.events < existing:
            started = time.perf_counter()
            self.history.add(existing - self.history.events)
            load_s = time.perf_counter() - started
            first = sum(one_pass(settings, "first").values())
            print(f"  {existing:>10,}: load {load_s:.0f}s, first pass {first:.0f}s", flush=True)
        else:  # kept: one untimed pass brings an interrupted first pass to its end
            first = sum(one_pass(settings, "first").values())
            print(f"  {existing:>10,}: kept, untimed pass {first:.0f}s", flush=True)
        self.passes: list[dict[str, float]] = []

    def run(self) -> None:
        self.history.add(NEW_EVENTS)
        times = one_pass(self.settings, f"pass-{len(self.passes)}")
        self.passes.append(times)
        print(
            f"  {self.existing:>10,}: pass {sum(times.values()):.1f}s ("
            + ", ".join(f"{step} {seconds:.2f}s" for step, seconds in times.items())
            + f"), load average {os.getloadavg()[0]:.2f}",
            flush=True,
        )

    def report(self) -> float:
        totals = [sum(p.values()) for p in self.passes]
        median, (low, high) = statistics.median(totals), spread(totals)
        print(
            f"  {self.existing:>10,} of history: pass median {median:.2f}s"
            f" (spread {low:.2f}-{high:.2f}s over {len(totals)})"
        )
        for step in PASS_STEPS:
            values = [p[step] for p in self.passes]
            low, high = spread(values)
            print(
                f"    {step}: median {statistics.median(values):.2f}s"
                f" (spread {low:.2f}-{high:.2f}s)"
            )
        sizes = disk(self.settings)
        millions = self.history.events / 1_000_000
        print(
            "    disk per million events: "
            + ", ".join(f"{name} {size / millions / 2**20:.0f} MiB" for name, size in sizes.items())
        )
        return median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", type=int, default=LARGE, help="events of the large history")
    parser.add_argument("--keep", type=Path, help="state dir kept for the large history")
    args = parser.parse_args()
    if args.large <= SMALL:
        parser.error(f"--large must exceed {SMALL:,}")
    # The first publication copies every mart whole: at 10,000,000 events, minutes.
    kept: dict[str, object] = {"pg_statement_timeout_s": FIRST_COPY_TIMEOUT_S}
    if args.keep:
        kept["state_dir"] = args.keep
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        os.chmod(args.keep, 0o755)  # the server may run as another system user
    with (
        throwaway_stack(kafka=False) as small_pg,
        throwaway_stack(kafka=False, **kept) as large_pg,
    ):
        if not small_pg.embedded_postgres:
            raise SystemExit("needs two embedded PostgreSQL servers: unset CQRSW_DATABASE_URL")
        print(
            f"whole pass after +{NEW_EVENTS:,} events, median of {RUNS};"
            f" load average at start {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
            flush=True,
        )
        small, large = Size(small_pg, SMALL), Size(large_pg, args.large)
        for _ in range(RUNS):
            small.run()
            large.run()
        small_s, large_s = small.report(), large.report()
    print(f"load average at end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(
        f"ratio={large_s / small_s:.2f} pass_{SMALL}_s={small_s:.2f}"
        f" pass_{args.large}_s={large_s:.2f}"
    )


if __name__ == "__main__":
    main()
