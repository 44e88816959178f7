"""Mixed payload versions fold into the same views as the all-v1 history.

raw keeps every event as it was written (v1 and v2 rows side by side); dbt staging upcasts.
The same history is written twice: once all in v1, once with each order.created and
stock.updated event in a drawn version, arriving in another order, with re-sent copies and
late events. After incremental runs, and after a full refresh, the marts of the two agree
row for row once the ids of one are mapped onto the other's.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from config.settings import Settings
from database import connections
from database.names import WAREHOUSE_DATABASE
from tests.support.dbt_in_process import InProcessDbt
from tests.support.history import Shape, arrival_batches, events_of, shapes
from tests.support.raw_events import Event, ingest_events

Views = dict[str, list[tuple[Any, ...]]]

QUERIES = {
    "orders_with_invoices": (
        "select order_id, user_id, customer_name, created_at, status, invoice_id, invoice_url,"
        " cancelled_at, updated_at, invoice_version, invoice_issued_at, invoice_event_id"
        " from marts.orders_with_invoices where order_id = any(%s::uuid[])"
    ),
    "products": (
        "select product_id, stock, version, last_operation_at, operation_count"
        " from marts.products where product_id = any(%s)"
    ),
    "product_stock_daily": (
        "select product_id, day, stock, version, last_operation_at, net_change, operation_count"
        " from marts.product_stock_daily where product_id = any(%s)"
    ),
}


@pytest.fixture(scope="module", autouse=True)
def built(dbt: InProcessDbt) -> Iterator[None]:
    dbt("run")  # staging views and marts exist; each example then runs the marts only
    yield


def views_of(settings: Settings, events: list[Event]) -> Views:
    orders = sorted({e["payload"]["order_id"] for e in events if "order_id" in e["payload"]})
    products = sorted({e["aggregate_id"] for e in events if e["event_type"] == "stock.updated"})
    found = {}
    with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
        for view, query in QUERIES.items():
            keys = orders if view == "orders_with_invoices" else products
            found[view] = sorted(conn.execute(query, (keys,)).fetchall(), key=repr)
    return found


def id_map(ones: list[Event], others: list[Event]) -> dict[str, str]:
    """Each id of one history -> the id in the same place of the other (same shape)."""
    pairs: dict[str, str] = {}
    for one, other in zip(ones, others, strict=True):
        pairs[one["event_id"]] = other["event_id"]
        pairs[one["aggregate_id"]] = other["aggregate_id"]
        for field in ("order_id", "invoice_id", "user_id"):
            if field in one["payload"]:
                pairs[one["payload"][field]] = other["payload"][field]
    return pairs


def mapped(views: Views, pairs: dict[str, str]) -> Views:
    def value(v: Any) -> Any:
        if isinstance(v, UUID):
            return UUID(pairs.get(str(v), str(v)))
        if isinstance(v, str):
            for old, new in pairs.items():
                if old and old in v:
                    v = v.replace(old, new)
        return v

    return {
        view: sorted((tuple(value(v) for v in row) for row in rows), key=repr)
        for view, rows in views.items()
    }


def write_and_fold(
    settings: Settings,
    dbt: InProcessDbt,
    one: tuple[Shape, list[Event]],
    other: tuple[Shape, list[Event]],
) -> None:
    """Both histories' batches, interleaved, with an incremental run after each."""
    first, second = arrival_batches(*one), arrival_batches(*other)
    for i in range(max(len(first), len(second))):
        for batches in (first, second):
            if i < len(batches):
                ingest_events(settings, batches[i])
                dbt("run", "--select", "marts")


def versions(event: Event) -> int:
    return int(event["schema_version"])


@hypothesis_settings(
    max_examples=10,
    deadline=None,
    # each example costs a few dbt runs: a failure is reported as drawn, not shrunk for minutes
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(shape=shapes(), data=st.data())
def test_mixed_versions_fold_into_the_views_of_the_all_v1_history(
    settings: Settings, dbt: InProcessDbt, shape: Shape, data: st.DataObject
) -> None:
    mix = data.draw(st.lists(st.sampled_from((1, 2)), min_size=1, max_size=8), label="versions")
    arrival = data.draw(st.permutations(shape.arrival), label="other arrival")
    v1 = events_of(shape, lambda i: 1)
    mixed = events_of(shape, lambda i: mix[i % len(mix)])
    if not v1:
        return
    write_and_fold(settings, dbt, (shape, v1), (dataclasses.replace(shape, arrival=arrival), mixed))

    assert {versions(e) for e in v1} == {1}
    assert mapped(views_of(settings, v1), id_map(v1, mixed)) == views_of(settings, mixed)


def test_a_full_refresh_of_mixed_versions_gives_the_same_views(
    settings: Settings, dbt: InProcessDbt
) -> None:
    rng = random.Random(20261206)
    orders = [
        (True, rng.random() < 0.3, [(rng.random() < 0.4, rng.randrange(600))], rng.randrange(600))
        for _ in range(12)
    ]
    products = [
        [(rng.randrange(3), rng.randrange(1, 20), rng.random() < 0.5) for _ in range(8)]
        for _ in range(4)
    ]
    count = sum(1 + b + len(c) for _, b, c, _ in orders) + sum(len(ops) for ops in products)
    resent = [rng.randrange(count) for _ in range(6)]
    arrival = [rng.randrange(10_000) for _ in range(count + len(resent))]
    shape = Shape(orders, products, resent, arrival, sorted(rng.randrange(count) for _ in range(3)))
    v1 = events_of(shape, lambda i: 1)
    mixed = events_of(shape, lambda i: rng.choice((1, 2)))
    assert {versions(e) for e in mixed} == {1, 2}
    other = dataclasses.replace(shape, arrival=list(reversed(arrival)))
    write_and_fold(settings, dbt, (shape, v1), (other, mixed))
    incremental = views_of(settings, mixed)
    assert all(incremental.values())
    assert mapped(views_of(settings, v1), id_map(v1, mixed)) == incremental

    dbt("run", "--select", "marts", "--full-refresh")

    assert views_of(settings, mixed) == incremental
    assert mapped(views_of(settings, v1), id_map(v1, mixed)) == incremental
