"""Orders with their invoices: parameterized SQL against the published view (schema serving).

Lists are keyset pages: each query reads at most ``limit + 1`` rows along an index, starting
after the sort key of the previous page's last row, so page 1,000 costs what page 1 does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Literal
from uuid import UUID

import psycopg
from psycopg import sql

from services.read_api.serving import Row, columns, fetch, names
from services.read_api.view_models import OrderWithInvoice

OrderStatus = Literal["created", "invoiced", "cancelled"]


_COLUMNS, _NAMES = columns(OrderWithInvoice), names(OrderWithInvoice)


@dataclass(frozen=True)
class OrderFilters:
    user_id: str
    status: OrderStatus | None = None
    created_from: datetime | None = None  # inclusive
    created_to: datetime | None = None  # exclusive


async def orders_with_invoices(
    conn: psycopg.AsyncConnection,
    filters: OrderFilters,
    limit: int,
    after: tuple[datetime, UUID] | None = None,
) -> list[Row]:
    """Newest first, read backwards along (user_id[, status], created_at, order_id)."""
    query, params = orders_query(filters, limit, after)
    return await fetch(conn, query, params, _NAMES)


def orders_query(
    filters: OrderFilters, limit: int, after: tuple[datetime, UUID] | None
) -> tuple[bytes, dict[str, object]]:
    """The page's SQL, with only the conditions in use: each shape gets a plan of its own."""
    query = _shaped_query(
        filters.status is not None,
        filters.created_from is not None,
        filters.created_to is not None,
        after is not None,
    )
    params: dict[str, object] = {
        "user_id": filters.user_id,
        "status": filters.status,
        "created_from": filters.created_from,
        "created_to": filters.created_to,
        "after_at": after[0] if after else None,
        "after_id": after[1] if after else None,
        "limit": limit,
    }
    return query, params


@cache
def _shaped_query(status: bool, created_from: bool, created_to: bool, after: bool) -> bytes:
    """Rendered once per shape (16 at most): composing it per request cost a tenth of a read."""
    where = [sql.SQL("user_id = %(user_id)s")]
    if status:
        where.append(sql.SQL("status = %(status)s"))
    if created_from:
        where.append(sql.SQL("created_at >= %(created_from)s"))
    if created_to:
        where.append(sql.SQL("created_at < %(created_to)s"))
    if after:
        where.append(sql.SQL("(created_at, order_id) < (%(after_at)s, %(after_id)s)"))
    return (
        sql.SQL(
            "select {} from serving.orders_with_invoices where {}"
            " order by created_at desc, order_id desc limit %(limit)s"
        )
        .format(_COLUMNS, sql.SQL(" and ").join(where))
        .as_bytes()
    )
