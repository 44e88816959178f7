"""dbt incremental refresh: 10,000 new events on top of 100,000 and of 1,000,000 existing ones.

Two throwaway PostgreSQL servers get the existing events (generated in SQL, contract-valid:
orders, invoices for orders anywhere in the history, cancellations, stock operations with
gap-free versions over 1,000 products) and a first build. Then, alternating between the
two so the machine's background load weighs on both alike, five times: one transaction
adds 10,000 events, ``dbt run`` refreshes the marts (timed), ``publish_views`` copies the
changes to ``serving``. At 1,000,000 a full refresh of the marts is timed too, and must give
the incremental marts back. Judged: the ratio of the median incremental times, near 1 when
a run costs what is new rather than what exists.

    .venv/bin/python -m bench.dbt_incremental            # or: make bench
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

from config.settings import Settings
from database import connections
from database.names import WAREHOUSE_DATABASE
from database.warehouse import MARTS
from pipeline.publish import publish_views
from stack.lifecycle import Stack
from tests.support.dbt_in_process import InProcessDbt
from tests.support.throwaway_stack import throwaway_stack

NEW_EVENTS = 10_000
PRODUCTS = 1_000
RUNS = 5
# Shares of each event type, per 20 events.
MIX = {"order_created": 8, "invoice_created": 6, "order_cancelled": 1, "stock_updated": 5}

ENVELOPE = """
insert into raw.{table} (event_id, event_type, schema_version, aggregate_id,
    aggregate_version, occurred_at, producer, request_id, trace, payload,
    kafka_topic, kafka_partition, kafka_offset, ingest_batch_id)
select md5('{table}' || k)::uuid, '{topic}', {version}, {aggregate_id}, {aggregate_version},
    timestamptz '2026-01-01 00:00:00+00' + k * interval '{step}', '{producer}', null,
    '{{}}'::jsonb, {payload}, '{topic}', 0, k, nextval('raw.ingest_batch_seq')
from generate_series(%(start)s::bigint, %(stop)s::bigint - 1) as k
"""
ORDER = "md5('order' || {})::uuid"
EVENTS = {
    "order_created": dict(
        topic="order.created", version=2, producer="orders", step="3 seconds",
        aggregate_id=f"{ORDER.format('k')}::text", aggregate_version="1",
        payload="jsonb_build_object('order_id', " + ORDER.format("k") + ", 'user_id', "
        "'user-' || mod(k, 5000), 'customer_name', 'Customer ' || k, 'items', '[]'::jsonb,"
        " 'channel', 'web')",
    ),
    "invoice_created": dict(
        topic="invoice.created", version=1, producer="invoices", step="4 seconds",
        aggregate_id="md5('invoice' || k)::uuid::text", aggregate_version="1",
        # For an order anywhere in the history so far: late and re-issued invoices included.
        payload="jsonb_build_object('invoice_id', md5('invoice' || k)::uuid, 'order_id', "
        + ORDER.format("mod(k * 7919, %(orders)s)")
        + ", 'invoice_url', 'https://billing.example.com/' || k || '.pdf')",
    ),
    "order_cancelled": dict(
        topic="order.cancelled", version=1, producer="orders", step="24 seconds",
        aggregate_id=f"{ORDER.format('mod(k * 104729, %(orders)s)')}::text",
        aggregate_version="2",
        payload="jsonb_build_object('order_id', "
        + ORDER.format("mod(k * 104729, %(orders)s)")
        + ", 'reason', null)",
    ),
    "stock_updated": dict(
        topic="stock.updated", version=1, producer="stock", step="30 seconds",
        aggregate_id=f"'sku-' || mod(k, {PRODUCTS})",
        aggregate_version=f"k / {PRODUCTS} + 1",
        # Odd versions add 5, even ones take 3: never below zero, versions without gaps.
        payload=f"jsonb_build_object('product_id', 'sku-' || mod(k, {PRODUCTS}), 'operation',"
        f" case when mod(k / {PRODUCTS}, 2) = 0 then 'increase' else 'decrease' end,"
        f" 'amount', case when mod(k / {PRODUCTS}, 2) = 0 then 5 else 3 end)",
    ),
}  # fmt: skip


class Warehouse:
    """Raw events generated in SQL; counts per table say where the next ones start."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.counts = dict.fromkeys(MIX, 0)

    def add(self, events: int) -> None:
        """Add ``events`` events in ONE transaction, like one ingest batch."""
        share = sum(MIX.values())
        stops = {t: self.counts[t] + events * n // share for t, n in MIX.items()}
        with connections.connect(self.settings, WAREHOUSE_DATABASE) as conn:
            batch = conn.execute("select nextval('raw.ingest_batch_seq')").fetchone()
            for table in ("order_created", "invoice_created", "order_cancelled", "stock_updated"):
                spec = EVENTS[table]
                statement = ENVELOPE.format(table=table, **spec)
                params = {
                    "start": self.counts[table], "stop": stops[table],
                    "orders": max(stops["order_created"], 1), "batch": batch[0] if batch else 0,
                }  # fmt: skip
                conn.execute(statement.encode(), params)
            conn.commit()
        self.counts = stops
        with connections.connect(self.settings, WAREHOUSE_DATABASE, autocommit=True) as conn:
            conn.execute("analyze")  # what autovacuum would do after a large load


def spread(times: list[float]) -> tuple[float, float]:
    """Lowest and highest of the runs: on a shared machine, how far one run can stray."""
    return min(times), max(times)


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def mart_summary(settings: Settings) -> tuple[object, ...]:
    """What any difference between two builds of the marts would move: every column of every
    order but the watermark (a rebuild's horizon is its own), and counts and sums of the rest."""
    queries = (
        "select count(*), md5(string_agg((to_jsonb(o) - 'changed_at_watermark')::text, ','"
        " order by o.order_id)) from marts.orders_with_invoices as o",
        "select count(*), sum(stock), sum(version) from marts.products",
        "select count(*), sum(stock), sum(net_change) from marts.product_stock_daily",
    )
    with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
        return tuple(value for query in queries for value in conn.execute(query).fetchall()[0])


def reset(settings: Settings) -> None:
    with connections.connect(settings, "postgres", autocommit=True) as conn:
        conn.execute(f"drop database if exists {WAREHOUSE_DATABASE} with (force)")
    # As `stack up` makes it: owned by its roles, its schemas, and who may read them.
    Stack(settings).prepare_databases()


class Size:
    """One warehouse (its own PostgreSQL) with ``existing`` events, built once."""

    def __init__(self, settings: Settings, existing: int):
        self.settings, self.existing = settings, existing
        reset(settings)
        self.store = Warehouse(settings)
        load_s = timed(lambda: self.store.add(existing))
        self.dbt = InProcessDbt(settings)
        build_s = timed(lambda: self.dbt("run"))
        publish_views(settings)
        self.incremental: list[float] = []
        self.publish: list[float] = []
        self.per_model: dict[str, list[float]] = {}
        print(f"  {existing:>9,} existing: load {load_s:.1f}s, first build {build_s:.1f}s")

    def refresh(self) -> None:
        """One ingest batch of new events, then the timed incremental run, then publish."""
        self.store.add(NEW_EVENTS)
        started = time.perf_counter()
        result = self.dbt("run")
        self.incremental.append(time.perf_counter() - started)
        for node in result.results:  # dbt's own timing of each model
            self.per_model.setdefault(node.node.name, []).append(node.execution_time)
        self.publish.append(timed(lambda: publish_views(self.settings)))

    def report(self) -> float:
        runs = ", ".join(f"{t:.2f}" for t in self.incremental)
        median, low, high = statistics.median(self.incremental), *spread(self.incremental)
        publish = statistics.median(self.publish)
        print(
            f"  {self.existing:>9,} existing: incremental runs {runs}s (median {median:.2f}s,"
            f" spread {low:.2f}-{high:.2f}s); publish {publish:.2f}s"
        )
        for mart in MARTS:
            print(f"    {mart.name}: median {statistics.median(self.per_model[mart.name]):.3f}s")
        return median

    def full_refresh(self) -> float:
        before = mart_summary(self.settings)
        seconds = timed(lambda: self.dbt("run", "--select", "marts", "--full-refresh"))
        after = mart_summary(self.settings)
        assert after == before, f"full refresh {after} != incremental {before}"
        print(f"  {self.existing:>9,} existing: full refresh {seconds:.1f}s, same marts")
        return seconds


def main() -> None:
    # Two servers side by side, runs alternating between them: the machine's background
    # load then weighs on both sizes alike.
    with throwaway_stack(kafka=False) as small_pg, throwaway_stack(kafka=False) as large_pg:
        if not small_pg.embedded_postgres:
            raise SystemExit("needs two embedded PostgreSQL servers: unset CQRSW_DATABASE_URL")
        print(f"dbt incremental: +{NEW_EVENTS:,} events per run, median of {RUNS}", flush=True)
        small, large = Size(small_pg, 100_000), Size(large_pg, 1_000_000)
        for _ in range(RUNS):
            small.refresh()
            large.refresh()
        inc_small, inc_large = small.report(), large.report()
        full_large = large.full_refresh()
    print(
        f"ratio={inc_large / inc_small:.2f} inc_100k_s={inc_small:.2f}"
        f" inc_1m_s={inc_large:.2f} full_1m_s={full_large:.2f}"
    )


if __name__ == "__main__":
    main()
