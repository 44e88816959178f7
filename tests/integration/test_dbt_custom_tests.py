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
from pipeline.audit import ALL_ROWS
from tests.support.dbt_in_process import InProcessDbt
from tests.support.raw_events import (
    ingest_events,
    invoice_created,
    order_cancelled,
    order_created,
    stock_updated,
)

T0 = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)


def compiled(dbt: InProcessDbt, test_name: str, model: str) -> str:
    """The SQL dbt runs for the generic test ``test_name`` attached to ``model``, on every
    row, as the daily audit runs it (docs/adr/check-windows.md)."""
    result = dbt("compile", "--select", f"test_name:{test_name},{model}", "--vars", ALL_ROWS)
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


def test_order_versions_fail_on_a_gap_and_a_repeat_but_wait_for_a_late_first_event(
    settings: Settings, dbt: InProcessDbt
) -> None:
    order = str(uuid.uuid4())
    ingest_events(settings, [order_created(order, "ada", T0), order_cancelled(order, T0)])
    dbt("run", "--select", "+int_order_events_unioned")
    sql = compiled(dbt, "versions_gap_free", "int_order_events_unioned")
    model = "int_order_events_unioned"
    with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
        conn.execute(
            "create temp table order_events as select * from intermediate.int_order_events_unioned"
            " where order_id = %s",
            (order,),
        )
        assert conn.execute("select count(*) from order_events").fetchone() == (2,)
        assert failures(conn, sql, model, "order_events") == []
        conn.execute("update order_events set aggregate_version = 3 where aggregate_version = 2")
        [gap] = failures(conn, sql, model, "order_events")  # version 2 was lost
        assert (str(gap[0]), *gap[1:]) == (order, 2, 2, 1, 3)
        conn.execute("update order_events set aggregate_version = 2 where aggregate_version = 3")
        assert failures(conn, sql, model, "order_events") == []
        conn.execute(  # a second cancellation, another event claiming version 2
            "insert into order_events select order_id, gen_random_uuid(), event_type,"
            " aggregate_version, occurred_at, ingest_txid from order_events"
            " where event_type = 'order.cancelled'"
        )
        [repeat] = failures(conn, sql, model, "order_events")
        assert (str(repeat[0]), *repeat[1:]) == (order, 3, 2, 1, 2)
        # Only the cancellation so far (its topic was read first): wait, do not fail.
        conn.execute("delete from order_events")
        conn.execute(
            "insert into order_events select * from intermediate.int_order_events_unioned"
            " where order_id = %s and event_type = 'order.cancelled'",
            (order,),
        )
        assert failures(conn, sql, model, "order_events") == []


def test_relationships_within_key_fails_on_an_invoice_of_another_order_or_none(
    settings: Settings, dbt: InProcessDbt
) -> None:
    mine, other = str(uuid.uuid4()), str(uuid.uuid4())
    my_invoice, other_invoice = invoice_created(mine, T0), invoice_created(other, T0)
    ingest_events(
        settings,
        [order_created(mine, "ada", T0), order_created(other, "bo", T0), my_invoice, other_invoice],
    )
    dbt("run", "--select", "+orders_with_invoices")
    sql = compiled(dbt, "relationships_within_key", "orders_with_invoices")
    model = "orders_with_invoices"
    with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
        conn.execute(
            "create temp table orders_copy as select * from marts.orders_with_invoices"
            " where order_id = any(%s::uuid[])",
            ([mine, other],),
        )
        assert conn.execute("select count(invoice_id) from orders_copy").fetchone() == (2,)
        assert failures(conn, sql, model, "orders_copy") == []
        stolen = other_invoice["payload"]["invoice_id"]  # exists, but is the other order's
        conn.execute("update orders_copy set invoice_id = %s where order_id = %s", (stolen, mine))
        [wrong] = failures(conn, sql, model, "orders_copy")
        assert (str(wrong[0]), str(wrong[1])) == (mine, stolen)
        conn.execute(
            "update orders_copy set invoice_id = gen_random_uuid() where order_id = %s", (mine,)
        )
        [unknown] = failures(conn, sql, model, "orders_copy")
        assert str(unknown[0]) == mine
        conn.execute("update orders_copy set invoice_id = null where order_id = %s", (mine,))
        assert failures(conn, sql, model, "orders_copy") == []
