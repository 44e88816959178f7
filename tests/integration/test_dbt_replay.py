"""Replay equivalence: whatever order events arrive in, duplicated or late, and however the
incremental runs fall between them, the marts equal the same history folded in Python."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings

from config.settings import Settings
from database import connections
from database.names import WAREHOUSE_DATABASE
from tests import reference_fold
from tests.support.dbt_in_process import InProcessDbt
from tests.support.history import Shape, arrival_batches, events_of, shapes
from tests.support.raw_events import Event, ingest_events

Marts = dict[object, tuple[object, ...]]


@pytest.fixture(scope="module", autouse=True)
def built(dbt: InProcessDbt) -> Iterator[None]:
    dbt("run")  # staging views and marts exist; each example then runs the marts only
    yield


def marts_for(settings: Settings, events: list[Event]) -> tuple[Marts, Marts, Marts]:
    order_ids = sorted({e["payload"]["order_id"] for e in events if "order_id" in e["payload"]})
    product_ids = sorted({e["aggregate_id"] for e in events if e["event_type"] == "stock.updated"})
    with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
        orders = conn.execute(
            "select order_id, user_id, customer_name, channel, created_at, status, invoice_id,"
            " invoice_url, cancelled_at, updated_at, invoice_version, invoice_issued_at,"
            " invoice_event_id from marts.orders_with_invoices"
            " where order_id = any(%s::uuid[])",
            (order_ids,),
        ).fetchall()
        products = conn.execute(
            "select product_id, stock, version, last_operation_at, operation_count"
            " from marts.products where product_id = any(%s)",
            (product_ids,),
        ).fetchall()
        daily = conn.execute(
            "select product_id, day, stock, version, last_operation_at, net_change,"
            " operation_count from marts.product_stock_daily where product_id = any(%s)",
            (product_ids,),
        ).fetchall()
    return (
        {row[0]: tuple(row[1:]) for row in orders},
        {row[0]: tuple(row[1:]) for row in products},
        {(row[0], row[1]): tuple(row[2:]) for row in daily},
    )


@hypothesis_settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(shape=shapes())
def test_incremental_marts_equal_the_history_folded_in_python(
    settings: Settings, dbt: InProcessDbt, shape: Shape
) -> None:
    # v1 and v2 payloads alternate: the oracle upcasts in Python, the warehouse in staging
    events = events_of(shape, lambda i: 1 + i % 2)
    for batch in arrival_batches(shape, events):
        ingest_events(settings, batch)
        dbt("run", "--select", "marts")

    orders, products, daily = marts_for(settings, events)

    assert orders == reference_fold.orders_with_invoices(events)
    assert products == reference_fold.products(events)
    assert daily == reference_fold.product_stock_daily(events)
    assert all(isinstance(key, UUID) for key in orders)
