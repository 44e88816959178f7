"""The marts computed in plain Python from a list of events: the oracle of the replay tests.

Written from the marts' documented meaning, not from their SQL: duplicates (same event_id)
count once, arrival order does not matter, and "latest invoice" means the highest aggregate
version, then the latest occurred_at, then the highest event_id.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

from contracts.upcasting import upcast

Event = dict[str, Any]
OrderRow = tuple[
    str, str, str, datetime, str, UUID | None, str | None, datetime | None, datetime,
    int | None, datetime | None, UUID | None,
]  # fmt: skip
ProductRow = tuple[int, int, datetime, int]
DailyRow = tuple[int, int, datetime, int, int]


def _at(event: Event) -> datetime:
    return datetime.fromisoformat(event["occurred_at"].replace("Z", "+00:00"))


def unique(events: Iterable[Event]) -> list[Event]:
    by_id = {event["event_id"]: event for event in events}
    return list(by_id.values())


def orders_with_invoices(events: Iterable[Event]) -> dict[UUID, OrderRow]:
    """order_id -> (user_id, customer_name, channel, created_at, status, invoice_id, url,
    cancelled_at, updated_at, and the latest invoice's ranking key: version, occurred_at,
    event_id)."""
    created: dict[str, Event] = {}
    cancelled: dict[str, list[datetime]] = defaultdict(list)
    invoices: dict[str, list[Event]] = defaultdict(list)
    for event in unique(events):
        payload = event["payload"]
        if event["event_type"] == "order.created":
            created[payload["order_id"]] = event
        elif event["event_type"] == "order.cancelled":
            cancelled[payload["order_id"]].append(_at(event))
        elif event["event_type"] == "invoice.created":
            invoices[payload["order_id"]].append(event)
    rows: dict[UUID, OrderRow] = {}
    for order_id, order in created.items():
        latest = max(
            invoices[order_id],
            key=lambda e: (e["aggregate_version"], _at(e), UUID(e["event_id"])),
            default=None,
        )
        status = "cancelled" if cancelled[order_id] else "invoiced" if latest else "created"
        times = [_at(order), *cancelled[order_id], *map(_at, invoices[order_id])]
        rows[UUID(order_id)] = (
            order["payload"]["user_id"],
            order["payload"]["customer_name"],
            upcast(order)["payload"]["channel"],
            _at(order),
            status,
            UUID(latest["payload"]["invoice_id"]) if latest else None,
            latest["payload"]["invoice_url"] if latest else None,
            min(cancelled[order_id], default=None),
            max(times),
            latest["aggregate_version"] if latest else None,
            _at(latest) if latest else None,
            UUID(latest["event_id"]) if latest else None,
        )
    return rows


def _operations(events: Iterable[Event]) -> dict[str, list[tuple[datetime, int, int]]]:
    """product_id -> [(occurred_at, version, signed amount)]."""
    log: dict[str, list[tuple[datetime, int, int]]] = defaultdict(list)
    for event in unique(events):
        if event["event_type"] == "stock.updated":
            payload = upcast(event)["payload"]
            sign = 1 if payload["operation"] == "increase" else -1
            log[payload["product_id"]].append(
                (_at(event), event["aggregate_version"], sign * payload["stock_amount"])
            )
    return log


def products(events: Iterable[Event]) -> dict[str, ProductRow]:
    """product_id -> (stock, version, last_operation_at, operation_count)."""
    return {
        product: (
            sum(amount for _, _, amount in ops),
            max(version for _, version, _ in ops),
            max(at for at, _, _ in ops),
            len(ops),
        )
        for product, ops in _operations(events).items()
    }


def product_stock_daily(events: Iterable[Event]) -> dict[tuple[str, date], DailyRow]:
    """(product_id, day) -> (stock, version, last_operation_at, net_change, operation_count)."""
    rows: dict[tuple[str, date], DailyRow] = {}
    for product, ops in _operations(events).items():
        days = sorted({at.astimezone(UTC).date() for at, _, _ in ops})
        for day in days:
            upto = [op for op in ops if op[0].astimezone(UTC).date() <= day]
            today = [op for op in upto if op[0].astimezone(UTC).date() == day]
            rows[(product, day)] = (
                sum(amount for _, _, amount in upto),
                max(version for _, version, _ in upto),
                max(at for at, _, _ in upto),
                sum(amount for _, _, amount in today),
                len(today),
            )
    return rows
