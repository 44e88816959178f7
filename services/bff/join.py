"""The BFF's join, in Python: orders and invoices of two services into the read API's rows.

The same rules as the dbt mart ``orders_with_invoices``: the latest invoice gives the URL,
a cancellation wins over an invoice, and a row changed when its last event happened.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from uuid import UUID

from services.invoices.bff_queries import OrderInvoice
from services.orders.bff_queries import UserOrder
from services.orders.domain import CHANNEL
from services.read_api.view_models import OrderWithInvoice


def latest_invoices(invoices: Iterable[OrderInvoice]) -> dict[UUID, OrderInvoice]:
    """Each order's most recent invoice."""
    latest: dict[UUID, OrderInvoice] = {}
    for invoice in invoices:
        seen = latest.get(invoice.order_id)
        if seen is None or (invoice.created_at, invoice.invoice_id) > (
            seen.created_at,
            seen.invoice_id,
        ):
            latest[invoice.order_id] = invoice
    return latest


def join(orders: Sequence[UserOrder], invoices: Iterable[OrderInvoice]) -> list[OrderWithInvoice]:
    """One row per order, in the orders' order (newest first)."""
    latest = latest_invoices(invoices)
    rows = []
    for order in orders:
        invoice = latest.get(order.order_id)
        if order.status == "cancelled":
            status = "cancelled"
        else:
            status = "invoiced" if invoice is not None else "created"
        updated_at = order.updated_at
        if invoice is not None and invoice.created_at > updated_at:
            updated_at = invoice.created_at
        rows.append(
            OrderWithInvoice(
                order_id=order.order_id,
                user_id=order.user_id,
                customer_name=order.customer_name,
                channel=CHANNEL,
                created_at=order.created_at,
                status=status,
                invoice_url=None if invoice is None else invoice.invoice_url,
                updated_at=updated_at,
            )
        )
    return rows
