"""The Python oracle of the replay tests, checked on a history small enough to do by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

from contracts.envelope import EventMeta, make_event
from tests import reference_fold

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
META = EventMeta(producer="test")
ORDER = "a0000000-0000-0000-0000-000000000001"


def event(
    event_type: str, aggregate: str, version: int, hours: int, **payload: Any
) -> dict[str, Any]:
    return make_event(
        event_type, aggregate_id=aggregate, aggregate_version=version, payload=payload,
        meta=META, occurred_at=T0 + timedelta(hours=hours),
    )  # fmt: skip


def invoice(invoice_id: str, version: int, hours: int) -> dict[str, Any]:
    url = f"https://billing.example.com/{invoice_id}/{version}"
    return event(
        "invoice.created", invoice_id, version, hours,
        invoice_id=invoice_id, order_id=ORDER, invoice_url=url,
    )  # fmt: skip


def stock(version: int, hours: int, operation: str, amount: int) -> dict[str, Any]:
    return event(
        "stock.updated", "sku-1", version, hours,
        product_id="sku-1", operation=operation, stock_amount=amount,
    )  # fmt: skip


def test_latest_invoice_is_the_highest_version_then_the_latest_time() -> None:
    b1, b2 = "b0000000-0000-0000-0000-000000000001", "b0000000-0000-0000-0000-000000000002"
    reissue, other = invoice(b1, 2, 1), invoice(b2, 1, 5)
    created = event(
        "order.created", ORDER, 1, 0,
        order_id=ORDER, user_id="u", customer_name="Ada", items=[], channel="web",
    )  # fmt: skip
    history = [other, reissue, invoice(b1, 1, 0), created, reissue]  # shuffled, one duplicate
    assert reference_fold.orders_with_invoices(history) == {
        UUID(ORDER): (
            "u", "Ada", "web", T0, "invoiced", UUID(b1), reissue["payload"]["invoice_url"], None,
            T0 + timedelta(hours=5), 2, T0 + timedelta(hours=1), UUID(reissue["event_id"]),
        )
    }  # fmt: skip


def test_stock_is_the_signed_sum_and_each_day_closes_with_the_sum_so_far() -> None:
    ops = [stock(1, 0, "increase", 10), stock(2, 30, "decrease", 4), stock(3, 50, "increase", 1)]
    history = [ops[2], ops[0], ops[1], ops[0]]
    assert reference_fold.products(history) == {"sku-1": (7, 3, T0 + timedelta(hours=50), 3)}
    assert reference_fold.product_stock_daily(history) == {
        ("sku-1", date(2026, 3, 1)): (10, 1, T0, 10, 1),
        ("sku-1", date(2026, 3, 2)): (6, 2, T0 + timedelta(hours=30), -4, 1),
        ("sku-1", date(2026, 3, 3)): (7, 3, T0 + timedelta(hours=50), 1, 1),
    }
