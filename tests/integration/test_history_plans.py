"""The read API's stock-history reads at 1,000,000 daily rows: index scans only, and a date
range reads only the months it covers (the table is partitioned by month)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest

from config.settings import Settings
from database import connections
from database.names import WAREHOUSE_DATABASE
from pipeline.publish import publish_views
from services.read_api import product_queries
from tests.support.dbt_in_process import InProcessDbt
from tests.support.raw_events import ingest_events, stock_updated
from tests.support.throwaway_stack import throwaway_stack

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FIRST_DAY, DAYS, PRODUCTS = date(2024, 1, 1), 1_000, 1_000  # to 2026-09-26: 33 months
TABLE = "product_stock_daily"


@pytest.fixture(scope="module")
def served() -> Iterator[Settings]:
    """A warehouse of its own: one product's operations on the first of each month give the
    marts and serving their monthly partitions through dbt and publish, as in service; then
    1,000 products x 1,000 days of generated rows fill ``serving``."""
    with throwaway_stack(kafka=False) as settings:
        months = [date(2024 + m // 12, m % 12 + 1, 1) for m in range(33)]
        ingest_events(
            settings,
            [
                stock_updated(
                    "sku-seed",
                    n + 1,
                    5 if n % 2 == 0 else -3,
                    datetime(*d.timetuple()[:3], tzinfo=UTC),
                )
                for n, d in enumerate(months)
            ],
        )
        InProcessDbt(settings)("run")
        publish_views(settings)
        with connections.connect(settings, WAREHOUSE_DATABASE, autocommit=True) as conn:
            conn.execute(
                "insert into serving.product_stock_daily (product_id, day, stock, version,"
                " last_operation_at, net_change, operation_count, changed_at_watermark)"
                " select 'sku-' || p, %(first)s::date + d, d + 5, d + 1,"
                " %(first)s::date + d + time '12:00', 1, 1, 0"
                " from generate_series(0, %(products)s - 1) as p,"
                " generate_series(0, %(days)s - 1) as d on conflict do nothing",
                {"first": FIRST_DAY, "products": PRODUCTS, "days": DAYS},
            )
            conn.execute("vacuum analyze serving.product_stock_daily")
        yield settings


def plan(settings: Settings, query: bytes, params: dict[str, Any]) -> dict[str, Any]:
    """The plan of one of the read API's queries (bytes, as it keeps them), with bound values."""
    with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
        row = conn.execute(b"explain (format json) " + query, params).fetchone()
    assert row is not None
    top: dict[str, Any] = row[0][0]["Plan"]
    return top


def nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from nodes(child)


def read_relations(top: dict[str, Any]) -> set[str]:
    return {n["Relation Name"] for n in nodes(top) if "Relation Name" in n}


def partition(month: date) -> str:
    return f"{TABLE}_{month:%Y%m}"


def test_the_serving_table_holds_a_million_rows_in_monthly_partitions(served: Settings) -> None:
    with connections.connect(served, WAREHOUSE_DATABASE) as conn:
        row = conn.execute(
            "select count(*), (select count(*) from pg_inherits"
            " where inhparent = 'serving.product_stock_daily'::regclass)"
            " from serving.product_stock_daily"
        ).fetchone()
    assert row is not None
    assert row[0] >= PRODUCTS * DAYS and row[1] == 33


def test_a_date_range_reads_only_its_months_by_index(served: Settings) -> None:
    top = plan(
        served,
        product_queries.HISTORY_SQL,
        {
            "product_id": "sku-7",
            "start": date(2025, 1, 10),
            "until": date(2025, 2, 10),
            "limit": 367,
        },
    )
    assert not [n for n in nodes(top) if n["Node Type"] == "Seq Scan"]
    assert read_relations(top) == {partition(date(2025, 1, 1)), partition(date(2025, 2, 1))}
    assert all("Index" in n["Node Type"] for n in nodes(top) if "Relation Name" in n)


def test_a_whole_history_reads_by_index(served: Settings) -> None:
    top = plan(
        served,
        product_queries.HISTORY_SQL,
        {"product_id": "sku-7", "start": date.min, "until": date.max, "limit": 367},
    )
    assert not [n for n in nodes(top) if n["Node Type"] == "Seq Scan"]
    assert len(read_relations(top)) == 33  # every month, each by its index


def test_stock_as_of_a_day_reads_no_later_month(served: Settings) -> None:
    top = plan(
        served, product_queries.PRODUCT_AS_OF_SQL, {"product_id": "sku-7", "day": date(2024, 6, 15)}
    )
    assert not [n for n in nodes(top) if n["Node Type"] == "Seq Scan"]
    daily = {r for r in read_relations(top) if r.startswith(TABLE)}
    assert daily and daily <= {partition(date(2024, m, 1)) for m in range(1, 7)}
