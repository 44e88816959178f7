"""Queries of the read side: parameterized SQL against the published views."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import psycopg
from psycopg.rows import class_row
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class OrderWithInvoice(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    order_id: UUID
    user_id: str
    customer_name: str
    created_at: datetime
    status: str
    invoice_url: str | None


def orders_with_invoices(
    conn: psycopg.Connection, user_id: str, limit: int
) -> list[OrderWithInvoice]:
    with conn.cursor(row_factory=class_row(OrderWithInvoice)) as cur:
        cur.execute(
            "select order_id, user_id, customer_name, created_at, status, invoice_url"
            " from marts.orders_with_invoices where user_id = %s"
            " order by created_at desc, order_id limit %s",
            (user_id, limit),
        )
        return cur.fetchall()
