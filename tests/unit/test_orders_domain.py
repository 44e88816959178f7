"""Order aggregate decisions."""

from __future__ import annotations

import uuid

import pytest

from services.errors import Conflict, NotFound
from services.orders import domain


def created() -> domain.Order:
    order, _ = domain.create_order(
        domain.CreateOrder(uuid.uuid4(), "alice", "Alice", (domain.OrderLine("sku-1", 2),))
    )
    return order


def test_create_records_order_created_with_lines() -> None:
    cmd = domain.CreateOrder(uuid.uuid4(), "alice", "Alice", (domain.OrderLine("sku-1", 2),))
    order, event = domain.create_order(cmd)
    assert (order.status, order.version) == ("created", 1)
    assert event.event_type == "order.created"
    assert event.aggregate_id == str(cmd.order_id)
    assert event.payload["items"] == [{"product_id": "sku-1", "quantity": 2}]


def test_cancel_bumps_version_and_records_reason() -> None:
    order = created()
    cancelled, event = domain.cancel_order(
        order, domain.CancelOrder(order.order_id, "alice", "late")
    )
    assert (cancelled.status, cancelled.version) == ("cancelled", 2)
    assert (event.event_type, event.aggregate_version) == ("order.cancelled", 2)
    assert event.payload == {"order_id": str(order.order_id), "reason": "late"}


def test_cancel_twice_conflicts() -> None:
    order = created()
    cancelled, _ = domain.cancel_order(order, domain.CancelOrder(order.order_id, "alice"))
    with pytest.raises(Conflict):
        domain.cancel_order(cancelled, domain.CancelOrder(order.order_id, "alice"))


def test_someone_elses_order_looks_missing() -> None:
    order = created()
    with pytest.raises(NotFound):
        domain.cancel_order(order, domain.CancelOrder(order.order_id, "mallory"))
    with pytest.raises(NotFound):
        domain.cancel_order(None, domain.CancelOrder(order.order_id, "alice"))
