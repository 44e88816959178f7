"""Response models of the read API, one per mart it serves.

Generated from the marts' dbt contracts (``meta.read_api`` in dbt_project/models/marts/) by
``python -m contracts.generate``: do not edit by hand.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from services.read_api.serving import CamelModel


class OrderWithInvoice(CamelModel):
    """A row of orders_with_invoices."""

    order_id: UUID
    user_id: str
    customer_name: str
    channel: str
    created_at: datetime
    status: str
    invoice_url: str | None
    updated_at: datetime
