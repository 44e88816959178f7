"""The project's own dbt tests can fail: each one run against a mart broken on purpose.

Each test's SQL is compiled by dbt as the build runs it, then pointed at a copy of its model
with one thing broken; it must return the broken rows (dbt fails a test that returns rows).
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import psycopg

from config.settings import Settings
from database import connections
from database.names import WAREHOUSE_DATABASE
from tests.support.dbt_in_process import InProcessDbt
from tests.support.raw_events import ingest_events, stock_updated

T0 = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)


def compiled(dbt: InProcessDbt, test_name: str, model: str) -> str:
    """The SQL dbt runs for the generic test ``test_name`` attached to ``model``."""
    result = dbt("compile", "--select", f"test_name:{test_name},{model}")
    [sql] = [r.node.compiled_code for r in result.results if model in r.node.name]
    return str(sql)


def failures(
    conn: psycopg.Connection, sql: str, relation: str, broken: str
) -> list[tuple[object, ...]]:
    pattern = r'"[^"]+"\."[^"]+"\."' + relation + '"'
    assert re.search(pattern, sql), sql
    return conn.execute(re.sub(pattern, broken, sql).encode()).fetchall()


def a_product(settings: Settings) -> str:
    product = f"sku-{uuid.uuid4().hex[:8]}"
    ingest_events(
        settings,
        [
            stock_updated(product, v, n, T0 + timedelta(hours=v))
            for v, n in [(1, 5), (2, -2), (3, 4)]
        ],
    )
    return product


def test_versions_gap_free_fails_on_a_gap_and_on_a_repeat(
    settings: Settings, dbt: InProcessDbt
) -> None:
    product = a_product(settings)
    dbt("run", "--select", "stg_stock__updated")
    sql = compiled(dbt, "versions_gap_free", "stg_stock__updated")
    with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
        conn.execute(
            "create temp table log_copy as select * from staging.stg_stock__updated"
            " where product_id = %s",
            (product,),
        )
        assert failures(conn, sql, "stg_stock__updated", "log_copy") == []
        conn.execute("delete from log_copy where version = 2")  # a lost event
        [gap] = failures(conn, sql, "stg_stock__updated", "log_copy")
        assert gap[0] == product
        conn.execute("insert into log_copy select * from log_copy where version = 3")  # repeat
        conn.execute("update log_copy set version = 2 where version = 1")
        assert [row[0] for row in failures(conn, sql, "stg_stock__updated", "log_copy")] == [
            product
        ]


def test_equals_signed_sum_of_log_fails_on_a_stock_that_does_not_add_up(
    settings: Settings, dbt: InProcessDbt
) -> None:
    product = a_product(settings)
    dbt("run", "--select", "+products")
    sql = compiled(dbt, "equals_signed_sum_of_log", "products")
    with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
        conn.execute("create temp table products_copy as select * from marts.products")
        assert failures(conn, sql, "products", "products_copy") == []
        conn.execute("update products_copy set stock = stock + 1 where product_id = %s", (product,))
        [wrong] = failures(conn, sql, "products", "products_copy")
        assert wrong[0] == product and (wrong[1], wrong[2]) == (8, 7)
        conn.execute("delete from products_copy where product_id = %s", (product,))
        [missing] = failures(conn, sql, "products", "products_copy")
        assert missing[0] == product and missing[1] is None
