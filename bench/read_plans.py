"""Query plans of the read API at 1,000,000 orders: each read is an index range scan.

A throwaway PostgreSQL gets 1,000,000 orders of 200,000 users, an invoice for four orders in
five, 50,000 cancellations and 100,000 stock operations of 1,000 products over 100 days
(generated in SQL), a dbt build and a publication. Then every query the read API runs is
explained with ANALYZE and timed (median of 50 runs): a plan without ``Index`` or with a
``Seq Scan`` fails the run.

    .venv/bin/python -m bench.read_plans
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime
from typing import Any

from psycopg import sql

from bench.dbt_incremental import ENVELOPE, ORDER, timed
from config.settings import Settings
from database import connections
from database.names import WAREHOUSE_DATABASE
from pipeline.publish import publish_views
from services.read_api import freshness, order_queries, product_queries
from tests.support.dbt_in_process import InProcessDbt
from tests.support.throwaway_stack import throwaway_stack

ORDERS, USERS, PRODUCTS = 1_000_000, 200_000, 1_000
SEED: dict[str, tuple[int, dict[str, str]]] = {
    "order_created": (ORDERS, dict(
        topic="order.created", version="2", producer="orders", step="2 seconds",
        aggregate_id=f"{ORDER.format('k')}::text", aggregate_version="1",
        payload="jsonb_build_object('order_id', " + ORDER.format("k") + ", 'user_id', "
        f"'user-' || mod(k, {USERS}), 'customer_name', 'Customer ' || k, 'items', '[]'::jsonb,"
        " 'channel', 'web')",
    )),
    "invoice_created": (ORDERS * 4 // 5, dict(
        topic="invoice.created", version="1", producer="invoices", step="2500 milliseconds",
        aggregate_id="md5('invoice' || k)::uuid::text", aggregate_version="1",
        payload="jsonb_build_object('invoice_id', md5('invoice' || k)::uuid, 'order_id', "
        + ORDER.format("k * 5 / 4")
        + ", 'invoice_url', 'https://billing.example.com/' || k || '.pdf')",
    )),
    "order_cancelled": (ORDERS // 20, dict(
        topic="order.cancelled", version="1", producer="orders", step="40 seconds",
        aggregate_id=f"{ORDER.format('k * 20 + 3')}::text", aggregate_version="2",
        payload="jsonb_build_object('order_id', " + ORDER.format("k * 20 + 3")
        + ", 'reason', null)",
    )),
    "stock_updated": (100_000, dict(
        topic="stock.updated", version="1", producer="stock", step="20 seconds",
        aggregate_id=f"'sku-' || mod(k, {PRODUCTS})", aggregate_version=f"k / {PRODUCTS} + 1",
        payload=f"jsonb_build_object('product_id', 'sku-' || mod(k, {PRODUCTS}), 'operation',"
        f" case when mod(k / {PRODUCTS}, 2) = 0 then 'increase' else 'decrease' end,"
        f" 'amount', case when mod(k / {PRODUCTS}, 2) = 0 then 5 else 3 end)",
    )),
}  # fmt: skip


def seed(settings: Settings) -> None:
    with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
        for table, (count, spec) in SEED.items():
            statement = ENVELOPE.format(table=table, **spec)
            conn.execute(statement.encode(), {"start": 0, "stop": count, "orders": ORDERS})
        conn.commit()
    with connections.connect(settings, WAREHOUSE_DATABASE, autocommit=True) as conn:
        conn.execute("vacuum analyze")


def publication_history(settings: Settings) -> None:
    """A year of publications every five minutes, so the freshness plan is that of a year on."""
    with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
        conn.execute(
            "insert into serving.publications (view_name, watermark, mode, rows_written,"
            " newest_event_at, published_at)"
            " select views.name, latest.watermark, 'upsert', 0, latest.newest_event_at,"
            " now() - n * interval '5 minutes'"
            " from generate_series(1, 105120) as n,"
            " unnest(array['orders_with_invoices', 'products', 'product_stock_daily'])"
            " as views (name),"
            " lateral (select p.watermark, p.newest_event_at from serving.publications as p"
            "   where p.view_name = views.name order by p.id desc limit 1) as latest"
        )
        conn.commit()


def reads(conn: Any) -> dict[str, tuple[Any, dict[str, Any]]]:
    """Each read of the API: its SQL and parameters, as the API builds them."""
    user = "user-4242"
    mine = order_queries.OrderFilters(user)
    query, params = order_queries.orders_query(mine, 5, None)
    first = conn.execute(query, params).fetchall()  # orderId, userId, ..., createdAt, ...
    middle = (first[2][3], first[2][0])
    window = order_queries.OrderFilters(
        user, "invoiced", datetime(2026, 1, 2, tzinfo=UTC), datetime(2026, 1, 20, tzinfo=UTC)
    )
    event_id = conn.execute("select event_id from raw.order_created limit 1").fetchone()[0]
    return {
        "orders, first page": order_queries.orders_query(mine, 101, None),
        "orders, next page": order_queries.orders_query(mine, 101, middle),
        "orders, status + dates": order_queries.orders_query(window, 101, None),
        "products, next page": (product_queries.PRODUCTS_SQL, {"after": "sku-500", "limit": 101}),
        "stock history": (
            product_queries.HISTORY_SQL,
            {"product_id": "sku-7", "start": datetime(2026, 1, 10).date(),
             "until": datetime(2026, 2, 10).date(), "limit": 367},
        ),
        "freshness": (freshness.LATEST_SQL, {"views": ["orders_with_invoices"]}),
        "position token": (
            "select ingest_txid from raw.order_created where event_id = %(event_id)s",
            {"event_id": event_id},
        ),
    }  # fmt: skip


def main() -> None:
    with throwaway_stack(kafka=False) as settings:
        print(f"read plans: {ORDERS:,} orders of {USERS:,} users", flush=True)
        load_s = timed(lambda: seed(settings))
        build_s = timed(lambda: InProcessDbt(settings)("run"))
        publish_s = timed(lambda: publish_views(settings))
        publication_history(settings)
        publish_views(settings)  # the latest publication is a real one again
        with connections.connect(settings, WAREHOUSE_DATABASE, autocommit=True) as conn:
            conn.execute("analyze")
            print(f"load {load_s:.0f}s, dbt build {build_s:.0f}s, publish {publish_s:.0f}s\n")
            slowest = 0.0
            for name, (query, params) in reads(conn).items():
                text = query.decode() if isinstance(query, bytes) else query
                composed = sql.SQL(text) if isinstance(text, str) else text
                explain = sql.SQL("explain (analyze, buffers, costs off, summary off) {}")
                plan = [r[0] for r in conn.execute(explain.format(composed), params).fetchall()]
                times = []
                for _ in range(50):
                    started = time.perf_counter()
                    conn.execute(composed, params).fetchall()
                    times.append((time.perf_counter() - started) * 1000)
                median = statistics.median(times)
                slowest = max(slowest, median)
                print(f"## {name}: median {median:.2f} ms\n" + "\n".join(plan) + "\n", flush=True)
                text = "\n".join(plan)
                if "Seq Scan" in text or "Index" not in text:
                    raise SystemExit(f"{name}: not an index scan")
    print(f"slowest_read_ms={slowest:.2f} orders={ORDERS}")


if __name__ == "__main__":
    main()
