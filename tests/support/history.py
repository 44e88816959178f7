"""Random event histories for the replay tests: orders, invoices, cancellations, stock.

A drawn ``Shape`` holds only small numbers; ``events_of`` turns it into contract-valid
events with fresh ids, so examples never collide in the shared test database.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise

from hypothesis import strategies as st

from tests.support.raw_events import (
    Event,
    invoice_created,
    order_cancelled,
    order_created,
    stock_updated,
)

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)

# has order.created, is cancelled, invoices as (is a re-issue, minute), minute of creation
OrderShape = tuple[bool, bool, list[tuple[bool, int]], int]
# per operation: (days after the previous one, amount, try to decrease)
StockShape = list[tuple[int, int, bool]]


@dataclass(frozen=True)
class Shape:
    orders: list[OrderShape]
    products: list[StockShape]
    resent: list[int]  # indices of events sent again (same event_id)
    arrival: list[int]  # sort keys: the order events reach the warehouse
    cuts: list[int]  # where arrival is split into ingest batches


orders_shape = st.tuples(
    st.booleans(),
    st.booleans(),
    st.lists(st.tuples(st.booleans(), st.integers(0, 600)), max_size=3),
    st.integers(0, 600),
)
stock_shape = st.lists(
    st.tuples(st.integers(0, 2), st.integers(1, 20), st.booleans()), min_size=1, max_size=6
)


def event_count(orders: list[OrderShape], products: list[StockShape]) -> int:
    return sum(has + cancelled + len(invoices) for has, cancelled, invoices, _ in orders) + sum(
        len(ops) for ops in products
    )


@st.composite
def shapes(draw: st.DrawFn) -> Shape:
    orders = draw(st.lists(orders_shape, max_size=4))
    products = draw(st.lists(stock_shape, max_size=2))
    count = event_count(orders, products)
    resent = draw(st.lists(st.integers(0, max(count - 1, 0)), max_size=3)) if count else []
    total = count + len(resent)
    arrival = draw(st.lists(st.integers(0, 1000), min_size=total, max_size=total))
    cuts = draw(st.lists(st.integers(0, total), max_size=2))
    return Shape(orders, products, resent, arrival, sorted(cuts))


def events_of(shape: Shape, version_of: Callable[[int], int] | None = None) -> list[Event]:
    """Every event of the history once, in the order it happened per aggregate.

    ``version_of(i)`` chooses the payload version of the i-th order.created and of the i-th
    stock.updated event (the ones with two versions); by default, the current one.
    """
    events: list[Event] = []
    versions = itertools.count()

    def payload_version() -> int:
        return version_of(next(versions)) if version_of else 2

    user = f"user-{uuid.uuid4().hex[:8]}"
    for has_order, cancelled, invoices, minute in shape.orders:
        order_id, created = str(uuid.uuid4()), T0 + timedelta(minutes=minute)
        if has_order:
            events.append(order_created(order_id, user, created, schema_version=payload_version()))
        if cancelled:
            events.append(order_cancelled(order_id, created + timedelta(minutes=30)))
        invoice_id, version = "", 0
        for reissue, at in invoices:
            if reissue and invoice_id:
                version += 1
            else:
                invoice_id, version = str(uuid.uuid4()), 1
            moment = T0 + timedelta(minutes=at)
            events.append(invoice_created(order_id, moment, invoice_id=invoice_id, version=version))
    for operations in shape.products:
        product, stock, moment = f"sku-{uuid.uuid4().hex[:12]}", 0, T0
        for step, (day_gap, amount, decrease) in enumerate(operations, start=1):
            moment += timedelta(days=day_gap, minutes=7)
            signed = -amount if decrease and amount <= stock else amount
            stock += signed
            events.append(
                stock_updated(product, step, signed, moment, schema_version=payload_version())
            )
    return events


def arrival_batches(shape: Shape, events: list[Event]) -> list[list[Event]]:
    """The events plus re-sent copies, shuffled, cut into the batches that ingest them."""
    sent = events + [events[i] for i in shape.resent]
    shuffled = [
        event for _, _, event in sorted(zip(shape.arrival, range(len(sent)), sent, strict=True))
    ]
    bounds = [0, *shape.cuts, len(shuffled)]
    return [shuffled[a:b] for a, b in pairwise(bounds) if b > a]
