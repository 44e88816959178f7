"""The event contracts: what is accepted where an event is made, and why the rest is not."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from contracts.catalog import raw_table
from contracts.envelope import ContractViolation, EventMeta, make_event, validate

META = EventMeta(producer="orders", request_id="req-1")


def order_created(**payload: Any) -> dict[str, Any]:
    order_id = str(uuid.uuid4())
    body: dict[str, Any] = {"order_id": order_id, "user_id": "alice", "customer_name": "Alice"}
    body.update(items=[], channel="web", **payload)
    return make_event(
        "order.created", aggregate_id=order_id, aggregate_version=1, payload=body, meta=META
    )


def test_made_event_carries_the_full_envelope() -> None:
    event = order_created()
    assert set(event) == {
        "event_id", "event_type", "schema_version", "aggregate_id", "aggregate_version",
        "occurred_at", "producer", "request_id", "trace", "payload",
    }  # fmt: skip
    assert event["schema_version"] == 2  # order.created is at v2
    assert event["request_id"] == "req-1"
    assert event["occurred_at"].endswith("Z")
    assert uuid.UUID(event["event_id"])


def test_payload_violation_names_the_field() -> None:
    with pytest.raises(ContractViolation, match="customer_name"):
        order_created(customer_name="")


def test_unexpected_payload_field_is_refused() -> None:
    with pytest.raises(ContractViolation, match=r"payload of order\.created v2"):
        order_created(discount=10)


def test_envelope_without_required_field_is_refused() -> None:
    event = order_created()
    del event["event_id"]
    with pytest.raises(ContractViolation, match=r"envelope.*event_id"):
        validate(event)


def test_unknown_event_type_is_refused() -> None:
    event = order_created()
    event["event_type"] = "order.shipped"
    with pytest.raises(ContractViolation, match="envelope"):
        validate(event)


def test_occurred_at_must_be_utc() -> None:
    event = order_created()
    moment = datetime.now(UTC).astimezone(timezone(timedelta(hours=2)))
    event["occurred_at"] = moment.isoformat()
    with pytest.raises(ContractViolation, match="occurred_at"):
        validate(event)


def test_unknown_schema_version_is_refused() -> None:
    event = order_created()
    event["schema_version"] = 9
    with pytest.raises(ContractViolation, match=r"no contract for order\.created v9"):
        validate(event)


@pytest.mark.parametrize(
    ("operation", "amount", "ok"),
    [("increase", 5, True), ("decrease", 1, True), ("decrease", 0, False), ("steal", 1, False)],
)
def test_stock_updated_operation_and_amount(operation: str, amount: int, ok: bool) -> None:
    payload = {"product_id": "sku-1", "operation": operation, "stock_amount": amount}

    def make() -> dict[str, Any]:
        return make_event(
            "stock.updated", aggregate_id="sku-1", aggregate_version=1, payload=payload, meta=META
        )

    if ok:
        assert make()["payload"] == payload
    else:
        with pytest.raises(ContractViolation):
            make()


def test_raw_table_name() -> None:
    assert raw_table("invoice.created") == "invoice_created"
