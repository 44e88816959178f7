"""Products: every product's stock, one product's stock (now or as of a day), day by day.

Parameterized SQL against the published views (schema serving); lists are keyset pages.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import psycopg
from psycopg.rows import class_row

from services.read_api.serving import CamelModel, published

PRODUCTS_SQL = (
    "select product_id, stock, version, last_operation_at from serving.products"
    " where product_id > %(after)s order by product_id limit %(limit)s"
)
HISTORY_SQL = (
    "select day, stock, net_change, operation_count, version, last_operation_at"
    " from serving.product_stock_daily"
    " where product_id = %(product_id)s and day >= %(start)s and day <= %(until)s"
    " order by day limit %(limit)s"
)


class ProductStock(CamelModel):
    product_id: str
    stock: int
    version: int
    last_operation_at: datetime | None
    as_of: date | None = None


class StockDay(CamelModel):
    day: date
    stock: int
    net_change: int
    operation_count: int
    version: int
    last_operation_at: datetime


def products(conn: psycopg.Connection, limit: int, after: str | None) -> list[ProductStock]:
    """Products in id order, along the primary key."""
    with published(), conn.cursor(row_factory=class_row(ProductStock)) as cur:
        cur.execute(PRODUCTS_SQL, {"after": after or "", "limit": limit})
        return cur.fetchall()


def stock_history(
    conn: psycopg.Connection,
    product_id: str,
    *,
    since: date | None,
    until: date | None,
    limit: int,
    after: date | None,
) -> list[StockDay]:
    """Days with operations in [since, until], oldest first, along the (product_id, day) key.

    A day without a row had no operation: its stock is that of the row before it.
    """
    if after == date.max:
        return []  # nothing comes after the last day there is
    first = [d for d in (since, after and after + timedelta(days=1)) if d is not None]
    start = max(first, default=date.min)
    with published(), conn.cursor(row_factory=class_row(StockDay)) as cur:
        cur.execute(
            HISTORY_SQL,
            {
                "product_id": product_id,
                "start": start,
                "until": until or date.max,
                "limit": limit,
            },
        )
        return cur.fetchall()


def product_exists(conn: psycopg.Connection, product_id: str) -> bool:
    with published():
        row = conn.execute(
            "select 1 from serving.products where product_id = %s", (product_id,)
        ).fetchone()
        return row is not None


def product_stock(conn: psycopg.Connection, product_id: str) -> ProductStock | None:
    with published(), conn.cursor(row_factory=class_row(ProductStock)) as cur:
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
    with published(), conn.cursor(row_factory=class_row(ProductStock)) as cur:
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
