"""Products: every product's stock, one product's stock (now or as of a day), day by day.

Parameterized SQL against the published views (schema serving); lists are keyset pages.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import psycopg
from psycopg import sql

from services.read_api.serving import CamelModel, Row, columns, fetch, names, published


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


_NOW = {"as_of": sql.SQL("null::date")}  # a product's stock now is as of no day
# Each query is rendered once, here: composing it per request cost a tenth of a read.
PRODUCTS_SQL = (
    sql.SQL(
        "select {} from serving.products"
        " where product_id > %(after)s order by product_id limit %(limit)s"
    )
    .format(columns(ProductStock, **_NOW))
    .as_bytes()
)
PRODUCT_SQL = (
    sql.SQL("select {} from serving.products where product_id = %(product_id)s")
    .format(columns(ProductStock, **_NOW))
    .as_bytes()
)
# The closing row of the day: the latest daily row up to it, 0 before the first.
PRODUCT_AS_OF_SQL = (
    sql.SQL(
        "select {} from serving.products"
        " left join lateral ("
        "   select daily.stock, daily.version, daily.last_operation_at"
        "   from serving.product_stock_daily as daily"
        "   where daily.product_id = products.product_id and daily.day <= %(day)s"
        "   order by daily.day desc limit 1"
        " ) as closing on true"
        " where products.product_id = %(product_id)s"
    )
    .format(
        columns(
            ProductStock,
            product_id=sql.SQL("products.product_id"),
            stock=sql.SQL("coalesce(closing.stock, 0)"),
            version=sql.SQL("coalesce(closing.version, 0)"),
            last_operation_at=sql.SQL("closing.last_operation_at"),
            as_of=sql.SQL("%(day)s::date"),
        )
    )
    .as_bytes()
)
HISTORY_SQL = (
    sql.SQL(
        "select {} from serving.product_stock_daily"
        " where product_id = %(product_id)s and day >= %(start)s and day <= %(until)s"
        " order by day limit %(limit)s"
    )
    .format(columns(StockDay))
    .as_bytes()
)


_STOCK, _DAY = names(ProductStock), names(StockDay)


async def products(conn: psycopg.AsyncConnection, limit: int, after: str | None) -> list[Row]:
    """Products in id order, along the primary key."""
    return await fetch(conn, PRODUCTS_SQL, {"after": after or "", "limit": limit}, _STOCK)


async def product_stock(conn: psycopg.AsyncConnection, product_id: str) -> Row | None:
    found = await fetch(conn, PRODUCT_SQL, {"product_id": product_id}, _STOCK)
    return found[0] if found else None


async def product_stock_as_of(
    conn: psycopg.AsyncConnection, product_id: str, day: date
) -> Row | None:
    """Stock at the end of ``day`` (UTC)."""
    params = {"product_id": product_id, "day": day}
    found = await fetch(conn, PRODUCT_AS_OF_SQL, params, _STOCK)
    return found[0] if found else None


async def stock_history(
    conn: psycopg.AsyncConnection,
    product_id: str,
    *,
    since: date | None,
    until: date | None,
    limit: int,
    after: date | None,
) -> list[Row]:
    """Days with operations in [since, until], oldest first, along the (product_id, day) key.

    A day without a row had no operation: its stock is that of the row before it.
    """
    if after == date.max:
        return []  # nothing comes after the last day there is
    first = [d for d in (since, after and after + timedelta(days=1)) if d is not None]
    start = max(first, default=date.min)
    params = {"product_id": product_id, "start": start, "until": until or date.max}
    return await fetch(conn, HISTORY_SQL, {**params, "limit": limit}, _DAY)


async def product_exists(conn: psycopg.AsyncConnection, product_id: str) -> bool:
    with published():
        cur = await conn.execute(
            "select 1 from serving.products where product_id = %s", (product_id,)
        )
        return await cur.fetchone() is not None
