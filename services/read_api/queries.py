"""Queries of the read side: parameterized SQL against the published views (schema serving)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from uuid import UUID

import psycopg
from psycopg import errors
from psycopg.rows import class_row
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from services.errors import Unavailable


class NotPublished(Unavailable):
    """No view has been published to the serving schema yet."""


class CamelModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class OrderWithInvoice(CamelModel):
    order_id: UUID
    user_id: str
    customer_name: str
    created_at: datetime
    status: str
    invoice_url: str | None


class ProductStock(CamelModel):
    product_id: str
    stock: int
    version: int
    last_operation_at: datetime | None
    as_of: date | None = None


@contextmanager
def _published() -> Iterator[None]:
    try:
        yield
    except errors.UndefinedTable:
        raise NotPublished("no views published yet: the pipeline has not run") from None


def orders_with_invoices(
    conn: psycopg.Connection, user_id: str, limit: int
) -> list[OrderWithInvoice]:
    # Newest first, matching the (user_id, created_at, order_id) index read backwards.
    with _published(), conn.cursor(row_factory=class_row(OrderWithInvoice)) as cur:
        cur.execute(
            "select order_id, user_id, customer_name, created_at, status, invoice_url"
            " from serving.orders_with_invoices where user_id = %s"
            " order by created_at desc, order_id desc limit %s",
            (user_id, limit),
        )
        return cur.fetchall()


def product_stock(conn: psycopg.Connection, product_id: str) -> ProductStock | None:
    with _published(), conn.cursor(row_factory=class_row(ProductStock)) as cur:
        cur.execute(
            "select product_id, stock, version, last_operation_at"
            " from serving.products where product_id = %s",
            (product_id,),
        )
        return cur.fetchone()


def product_stock_as_of(
    conn: psycopg.Connection, product_id: str, day: date
) -> ProductStock | None:
    """Stock at the end of ``day`` (UTC): the latest daily row up to it, 0 before the first."""
    with _published(), conn.cursor(row_factory=class_row(ProductStock)) as cur:
        cur.execute(
            "select products.product_id, coalesce(closing.stock, 0) as stock,"
            " coalesce(closing.version, 0) as version, closing.last_operation_at,"
            " %(day)s::date as as_of"
            " from serving.products"
            " left join lateral ("
            "   select daily.stock, daily.version, daily.last_operation_at"
            "   from serving.product_stock_daily as daily"
            "   where daily.product_id = products.product_id and daily.day <= %(day)s"
            "   order by daily.day desc limit 1"
            " ) as closing on true"
            " where products.product_id = %(product_id)s",
            {"product_id": product_id, "day": day},
        )
        return cur.fetchone()
