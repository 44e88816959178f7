"""Contracts as strict as the warehouse columns: what passes them, PostgreSQL can store.

One case per category of poison found by fuzzing the ingest, each decoded as the ingest decodes a
Kafka message: it must become a dead letter naming the field, never a raw row.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from contracts.envelope import ContractViolation, EventMeta, make_event, validate
from ingest.decode import decode
from ingest.warehouse import DeadLetter, RawEvent
from tests.support.signing import signed, unit_trust

INT_MAX = 2**31 - 1  # PostgreSQL int: aggregate_version, schema_version, stock amount


def stock_event() -> dict[str, Any]:
    product = f"sku-{uuid.uuid4().hex[:8]}"
    payload = {"product_id": product, "operation": "increase", "stock_amount": 3}
    return make_event(
        "stock.updated", aggregate_id=product, aggregate_version=1, payload=payload,
        meta=EventMeta(producer="stock"),
    )  # fmt: skip


def order_event() -> dict[str, Any]:
    order_id = str(uuid.uuid4())
    payload = {
        "order_id": order_id, "user_id": "u", "customer_name": "C",
        "items": [{"product_id": "sku-1", "quantity": 2}], "channel": "web",
    }  # fmt: skip
    return make_event(
        "order.created", aggregate_id=order_id, aggregate_version=1, payload=payload,
        meta=EventMeta(producer="orders"),
    )  # fmt: skip


def decoded(event: dict[str, Any], raw: bytes | None = None) -> RawEvent | DeadLetter:
    value = raw if raw is not None else orjson.dumps(signed(event))
    key = event["aggregate_id"].encode()
    return decode(event["event_type"], 0, 7, key, value, unit_trust())


Change = Callable[[dict[str, Any]], None]

POISON: dict[str, tuple[Callable[[], dict[str, Any]], Change, str]] = {
    "aggregate_version above int": (
        stock_event, lambda e: e.update(aggregate_version=INT_MAX + 1), "aggregate_version"),
    "schema_version above int": (
        stock_event, lambda e: e.update(schema_version=INT_MAX + 1), "schema_version"),
    "stock_amount above int": (
        stock_event, lambda e: e["payload"].update(stock_amount=INT_MAX + 1), "stock_amount"),
    "quantity above int": (
        order_event, lambda e: e["payload"]["items"][0].update(quantity=INT_MAX + 1), "quantity"),
    "float version": (
        stock_event, lambda e: e.update(aggregate_version=1.0), "not an integer literal"),
    "float amount": (
        stock_event, lambda e: e["payload"].update(stock_amount=5.0), "not an integer literal"),
    "exponent amount": (
        stock_event, lambda e: e["payload"].update(stock_amount=1e1), "not an integer literal"),
    "float quantity in a later item": (
        order_event,
        lambda e: e["payload"]["items"].append({**e["payload"]["items"][0], "quantity": 2.0}),
        "/quantity: a number with a fraction"),
    "year 0000": (
        stock_event, lambda e: e.update(occurred_at="0000-06-01T00:00:00Z"), "occurred_at"),
    "31 February": (
        stock_event, lambda e: e.update(occurred_at="2026-02-31T00:00:00Z"), "occurred_at"),
    "NUL in payload": (
        stock_event, lambda e: e["payload"].update(product_id="a\u0000b"), "product_id"),
    "NUL in envelope": (
        order_event, lambda e: e.update(request_id="r\u0000"), "request_id"),
    "NUL in an item": (
        order_event, lambda e: e["payload"]["items"][0].update(product_id="\u0000"),
        "product_id"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(POISON))
def test_each_poison_category_is_a_dead_letter_naming_the_field(case: str) -> None:
    make, change, named = POISON[case]
    event = make()
    change(event)
    with pytest.raises(ContractViolation, match=named):
        validate(orjson.loads(orjson.dumps(event)))
    dead = decoded(event)
    assert isinstance(dead, DeadLetter)
    assert dead.reason.startswith("contract violation") and named in dead.reason


@pytest.mark.parametrize(
    "raw",
    [
        b'"\\ud800"',  # a lone surrogate: not Unicode
        b'"\xff\xfe"',  # not UTF-8
    ],
)
def test_strings_that_are_not_valid_unicode_are_dead_letters(raw: bytes) -> None:
    event = stock_event()
    value = orjson.dumps(event).replace(orjson.dumps(event["producer"]), raw)
    dead = decoded(event, value)
    assert isinstance(dead, DeadLetter)
    assert dead.reason.startswith("not JSON")


def test_the_edges_of_each_range_are_accepted() -> None:
    event = stock_event()
    event.update(aggregate_version=INT_MAX, occurred_at="0001-01-01T00:00:00Z")
    event["payload"]["stock_amount"] = 1_000_000_000  # the contract's own bound, below int's
    assert isinstance(decoded(event), RawEvent)
    event.update(occurred_at="9999-12-31T23:59:59.999999Z")
    assert isinstance(decoded(event), RawEvent)
    unicode = order_event()
    unicode["payload"]["customer_name"] = "Zoë 😀 \u200b"
    assert isinstance(decoded(unicode), RawEvent)


def test_a_dead_letter_reason_is_storable_text() -> None:
    dead = DeadLetter("t", 0, 1, None, None, "bad \x00 \udcff " + "x" * 5000)
    stored = dead.stored_reason()
    assert "\x00" not in stored and len(stored) <= 2000
    stored.encode("utf-8")  # raises on a surrogate
