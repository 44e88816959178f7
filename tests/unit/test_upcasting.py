"""Upcasters: each older version lifted to the current one; ingest keeps events as they arrived."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson

from contracts.envelope import rfc3339, utc_now, validate
from contracts.upcasting import upcast
from ingest.decode import decode
from ingest.warehouse import DeadLetter
from tests.support.raw_events import stock_updated
from tests.support.signing import signed, unit_trust


def v1_event() -> dict[str, Any]:
    order_id = str(uuid.uuid4())
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": "order.created",
        "schema_version": 1,
        "aggregate_id": order_id,
        "aggregate_version": 1,
        "occurred_at": rfc3339(utc_now()),
        "producer": "orders",
        "request_id": None,
        "trace": {},
        "payload": {"order_id": order_id, "user_id": "u", "customer_name": "C", "items": []},
    }


def test_order_created_v1_is_valid_and_upcasts_to_a_valid_v2() -> None:
    old = validate(v1_event())
    new = upcast(old)
    assert new["schema_version"] == 2
    assert new["payload"] == {**old["payload"], "channel": "unknown"}
    assert validate(new) == new
    assert old["schema_version"] == 1 and "channel" not in old["payload"]  # input untouched


def test_stock_updated_v1_amount_becomes_v2_stock_amount() -> None:
    old = stock_updated("sku-1", 3, -4, datetime(2026, 1, 5, tzinfo=UTC), schema_version=1)
    new = upcast(old)
    assert new["schema_version"] == 2
    assert new["payload"] == {"product_id": "sku-1", "operation": "decrease", "stock_amount": 4}
    assert validate(new) == new
    assert old["payload"]["amount"] == 4  # input untouched


def test_current_version_passes_through_unchanged() -> None:
    event = upcast(v1_event())
    assert upcast(event) == event


def test_ingest_stores_v1_events_as_they_arrived() -> None:
    event = v1_event()
    key, value = event["aggregate_id"].encode(), orjson.dumps(signed(event))
    row = decode("order.created", 0, 3, key, value, unit_trust())
    assert not isinstance(row, DeadLetter)
    assert row.schema_version == 1
    assert orjson.loads(row.payload) == event["payload"]
