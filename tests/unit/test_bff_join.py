"""The BFF's join follows the mart's rules: latest invoice, cancellation first, last change."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from services.bff.join import join
from services.invoices.bff_queries import OrderInvoice
from services.orders.bff_queries import OrderLine, UserOrder

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def order(status: str = "created", *, changed: timedelta = timedelta(0)) -> UserOrder:
    return UserOrder(
        order_id=uuid.uuid4(),
        user_id="ivy",
        customer_name="Ivy",
        status=status,
        items=[OrderLine(product_id="sku-1", quantity=1)],
        created_at=T0,
        updated_at=T0 + changed,
    )


def invoice(order_id: uuid.UUID, after: timedelta, url: str) -> OrderInvoice:
    return OrderInvoice(
        invoice_id=uuid.uuid4(), order_id=order_id, invoice_url=url, created_at=T0 + after
    )


def test_rows_keep_the_orders_order_and_take_each_orders_latest_invoice() -> None:
    plain, invoiced, cancelled = order(), order(), order("cancelled", changed=timedelta(hours=1))
    invoices = [
        invoice(invoiced.order_id, timedelta(hours=3), "https://i/new"),
        invoice(invoiced.order_id, timedelta(hours=2), "https://i/old"),
        invoice(cancelled.order_id, timedelta(minutes=5), "https://i/c"),
        invoice(uuid.uuid4(), timedelta(hours=9), "https://i/other-users-order"),
    ]
    rows = join([plain, invoiced, cancelled], invoices)
    assert [r.order_id for r in rows] == [plain.order_id, invoiced.order_id, cancelled.order_id]
    assert [(r.status, r.invoice_url) for r in rows] == [
        ("created", None),
        ("invoiced", "https://i/new"),
        ("cancelled", "https://i/c"),
    ]
    assert [r.updated_at for r in rows] == [
        T0,
        T0 + timedelta(hours=3),  # the last invoice
        T0 + timedelta(hours=1),  # the cancellation, after the invoice
    ]


def test_no_orders_no_rows() -> None:
    assert join([], [invoice(uuid.uuid4(), timedelta(0), "https://i/x")]) == []
