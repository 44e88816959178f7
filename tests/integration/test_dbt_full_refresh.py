"""A full refresh from raw gives the incremental marts back, row for row."""

from __future__ import annotations

import random

from config.settings import Settings
from database import connections
from database.names import WAREHOUSE_DATABASE
from pipeline.publish import publish_views
from tests.support.dbt_in_process import InProcessDbt
from tests.support.history import Shape, arrival_batches, events_of
from tests.support.raw_events import ingest_events

Rows = dict[str, list[tuple[object, ...]]]
KEYS = {
    "orders_with_invoices": ("order_id",),
    "products": ("product_id",),
    "product_stock_daily": ("product_id", "day"),
}


def varied_history(rng: random.Random) -> Shape:
    """Many orders and products, a few re-sent events, arrival shuffled into five batches."""
    orders = [
        (
            rng.random() < 0.9,
            rng.random() < 0.3,
            [(rng.random() < 0.4, rng.randrange(600)) for _ in range(rng.randrange(3))],
            rng.randrange(600),
        )
        for _ in range(40)
    ]
    products = [
        [(rng.randrange(3), rng.randrange(1, 20), rng.random() < 0.5) for _ in range(12)]
        for _ in range(6)
    ]
    count = sum(a + b + len(c) for a, b, c, _ in orders) + sum(len(ops) for ops in products)
    resent = [rng.randrange(count) for _ in range(10)]
    arrival = [rng.randrange(10_000) for _ in range(count + len(resent))]
    cuts = sorted(rng.randrange(count) for _ in range(4))
    return Shape(orders, products, resent, arrival, cuts)


def mart_rows(settings: Settings, schema: str = "marts") -> Rows:
    """Every row of every mart, without the watermark (which a refresh rightly renews)."""
    found = {}
    with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
        for view, key in KEYS.items():
            cur = conn.execute(f"select * from {schema}.{view} order by {', '.join(key)}")
            cut = [column.name for column in cur.description or []].index("changed_at_watermark")
            found[view] = [row[:cut] + row[cut + 1 :] for row in cur.fetchall()]
    return found


def test_full_refresh_equals_the_incremental_marts(settings: Settings, dbt: InProcessDbt) -> None:
    dbt("run")
    shape = varied_history(random.Random(20260301))
    for batch in arrival_batches(shape, events_of(shape)):
        ingest_events(settings, batch)
        dbt("run", "--select", "marts")
    incremental = mart_rows(settings)
    assert all(incremental.values())

    dbt("run", "--select", "marts", "--full-refresh")

    assert mart_rows(settings) == incremental
    dbt("test")  # every data and unit test holds on the rebuilt marts
    # Every row is newer than the last publication: published whole, rows that left go too.
    assert publish_views(settings)["products"] == len(incremental["products"])
    assert mart_rows(settings, "serving") == incremental
