"""Typed events: each contract type has one class, and its payload is the contract's shape."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest

from contracts.catalog import CURRENT_SCHEMA_VERSION, EVENT_TYPES
from contracts.envelope import EventMeta
from services.events import DomainEvent, envelope
from services.invoices.domain import InvoiceCreated
from services.orders.domain import OrderCancelled, OrderCreated, OrderLine
from services.stock.domain import StockUpdated

ORDER_ID = uuid.UUID("00000000-0000-4000-8000-000000000001")


def test_every_event_type_is_mapped_once_to_its_current_version() -> None:
    assert {t: c.schema_version for t, c in DomainEvent.registry.items()} == {
        t: CURRENT_SCHEMA_VERSION[t] for t in EVENT_TYPES
    }
    assert DomainEvent.registry["order.created"] is OrderCreated


def test_a_class_for_an_old_version_or_a_taken_type_is_refused() -> None:
    with pytest.raises(TypeError, match="not current"):

        @dataclass(frozen=True)
        class OrderCreatedV1(DomainEvent, event_type="order.created", schema_version=1):
            pass

    with pytest.raises(TypeError, match="already mapped"):

        @dataclass(frozen=True)
        class Again(DomainEvent, event_type="stock.updated", schema_version=2):
            pass


def test_payloads_are_the_json_the_contracts_describe() -> None:
    created = OrderCreated(
        aggregate_version=1,
        order_id=ORDER_ID,
        user_id="alice",
        customer_name="Alice",
        items=(OrderLine("sku-1", 2),),
        channel="api",
    )
    assert created.aggregate_id == str(ORDER_ID)
    assert created.payload == {
        "order_id": str(ORDER_ID),
        "user_id": "alice",
        "customer_name": "Alice",
        "items": [{"product_id": "sku-1", "quantity": 2}],
        "channel": "api",
    }
    cancelled = OrderCancelled(aggregate_version=2, order_id=ORDER_ID, reason=None)
    assert cancelled.payload == {"order_id": str(ORDER_ID), "reason": None}
    invoice = InvoiceCreated(
        aggregate_version=1, invoice_id=ORDER_ID, order_id=ORDER_ID, invoice_url="https://x/1.pdf"
    )
    assert invoice.payload["invoice_id"] == invoice.aggregate_id == str(ORDER_ID)
    updated = StockUpdated(
        aggregate_version=7, product_id="p", operation="decrease", stock_amount=3
    )
    assert updated.payload == {"product_id": "p", "operation": "decrease", "stock_amount": 3}


def test_the_envelope_carries_type_version_and_meta() -> None:
    event = StockUpdated(aggregate_version=7, product_id="p", operation="increase", stock_amount=3)
    meta = EventMeta(
        producer="stock", request_id="r-1", traceparent="00-" + "a" * 32 + "-" + "b" * 16 + "-01"
    )
    built = envelope(event, meta)
    assert {k: built[k] for k in ("event_type", "schema_version", "aggregate_id")} == {
        "event_type": "stock.updated",
        "schema_version": 2,
        "aggregate_id": "p",
    }
    assert (built["aggregate_version"], built["producer"], built["request_id"]) == (
        7,
        "stock",
        "r-1",
    )
    assert built["trace"] == {"traceparent": meta.traceparent}
    assert built["payload"] == event.payload
    assert set(built) == {
        "event_id", "event_type", "schema_version", "aggregate_id", "aggregate_version",
        "occurred_at", "producer", "request_id", "trace", "payload",
    }  # fmt: skip
