"""Orders with their invoices: parameterized SQL against the published view (schema serving).

Lists are keyset pages: each query reads at most ``limit + 1`` rows along an index, starting
after the sort key of the previous page's last row, so page 1,000 costs what page 1 does.
Pages of one shape asked at the same time are read in one statement, each page along the
same index as alone (services/read_api/read_batches.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Literal
from uuid import UUID

import psycopg
from psycopg import sql

from services.read_api.serving import Row, columns, fetch, names, published
from services.read_api.view_models import OrderWithInvoice

OrderStatus = Literal["created", "invoiced", "cancelled"]


_COLUMNS, _NAMES = columns(OrderWithInvoice), names(OrderWithInvoice)
_FIELDS = OrderWithInvoice.model_fields
_CREATED_AT, _ORDER_ID = (sql.Identifier(_FIELDS[n].alias or n) for n in ("created_at", "order_id"))
Shape = tuple[bool, bool, bool, bool]  # which of status, created from, created to, after


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


@dataclass(frozen=True)
class PageAsk:
    """One page of one user's orders, as ``orders_with_invoices`` takes it."""

    filters: OrderFilters
    limit: int
    after: tuple[datetime, UUID] | None = None

    @property
    def shape(self) -> Shape:
        f = self.filters
        return (
            f.status is not None,
            f.created_from is not None,
            f.created_to is not None,
            self.after is not None,
        )

    def values(self) -> dict[str, object]:
        """The value of each parameter a page's query may take (None where unused)."""
        f, after = self.filters, self.after
        return {
            "user_id": f.user_id,
            "status": f.status,
            "created_from": f.created_from,
            "created_to": f.created_to,
            "after_at": after[0] if after else None,
            "after_id": after[1] if after else None,
            "limit": self.limit,
        }


async def pages_of_many(
    conn: psycopg.AsyncConnection, shape: Shape, asks: Sequence[PageAsk]
) -> list[list[Row]]:
    """The page of each ask (all of ``shape``), in one statement: what
    ``orders_with_invoices`` would answer for each in turn."""
    values = [a.values() for a in asks]
    params = {n: [v[n] for v in values] for n in _parameters(shape)}
    pages: list[list[Row]] = [[] for _ in asks]
    with published():
        cur = await conn.execute(_batched_query(*shape), params)
        for row in await cur.fetchall():
            pages[row[0] - 1].append(dict(zip(_NAMES, row[1:], strict=True)))
    return pages


def orders_query(
    filters: OrderFilters, limit: int, after: tuple[datetime, UUID] | None
) -> tuple[bytes, dict[str, object]]:
    """The page's SQL, with only the conditions in use: each shape gets a plan of its own."""
    ask = PageAsk(filters, limit, after)
    return _shaped_query(*ask.shape), ask.values()


# A page's conditions, written once for the query of one page and for the batched one:
# ``{o}`` prefixes a column of the view, ``{name}`` stands for the value of parameter
# ``name``. The user's condition always applies; the others in the order of ``Shape``.
_USER = "{o}user_id = {user_id}"
_OPTIONAL = (
    "{o}status = {status}",
    "{o}created_at >= {created_from}",
    "{o}created_at < {created_to}",
    "({o}created_at, {o}order_id) < ({after_at}, {after_id})",
)
# Each parameter's SQL type, for the arrays a batch sends (one element per ask).
_TYPES = {
    "user_id": "text",
    "status": "text",
    "created_from": "timestamptz",
    "created_to": "timestamptz",
    "after_at": "timestamptz",
    "after_id": "uuid",
    "limit": "int",
}


def _conditions(shape: Shape) -> list[str]:
    return [_USER, *(c for c, used in zip(_OPTIONAL, shape, strict=True) if used)]


def _parameters(shape: Shape) -> list[str]:
    """The parameters the query of ``shape`` takes, in ``_TYPES``'s order."""
    used = {n for c in _conditions(shape) for n in _TYPES if "{" + n + "}" in c}
    return [n for n in _TYPES if n in used or n == "limit"]


def _where(shape: Shape, column_prefix: str, value: str) -> sql.SQL:
    """The conditions of ``shape``; ``value`` renders a parameter's reference from its name."""
    refs = {n: value.format(n) for n in _TYPES}
    return sql.SQL(" and ".join(c.format(o=column_prefix, **refs) for c in _conditions(shape)))


@cache
def _shaped_query(status: bool, created_from: bool, created_to: bool, after: bool) -> bytes:
    """Rendered once per shape (16 at most): composing it per request cost a tenth of a read."""
    where = _where((status, created_from, created_to, after), "", "%({})s")
    return (
        sql.SQL(
            "select {} from serving.orders_with_invoices where {}"
            " order by created_at desc, order_id desc limit %(limit)s"
        )
        .format(_COLUMNS, where)
        .as_bytes()
    )


@cache
def _batched_query(status: bool, created_from: bool, created_to: bool, after: bool) -> bytes:
    """Each ask's page read by a lateral subquery along the index, as ``_shaped_query``
    reads it alone; rows numbered by their ask (``with ordinality``), in page order. The
    columns are qualified: the asks' columns share their names."""
    shape = (status, created_from, created_to, after)
    names = _parameters(shape)
    return (
        sql.SQL(
            "select asks.i, page.* from unnest({arrays}) with ordinality as asks ({names}, i)"
            " cross join lateral ("
            " select {columns} from serving.orders_with_invoices as o where {where}"
            ' order by o.created_at desc, o.order_id desc limit asks."limit"'
            ") as page order by asks.i, page.{created_at} desc, page.{order_id} desc"
        )
        .format(
            arrays=sql.SQL(", ").join(
                sql.SQL("{}::{}[]").format(sql.Placeholder(n), sql.SQL(_TYPES[n])) for n in names
            ),
            names=sql.SQL(", ").join(sql.Identifier(n) for n in names),
            columns=_COLUMNS,
            where=_where(shape, "o.", "asks.{}"),
            created_at=_CREATED_AT,
            order_id=_ORDER_ID,
        )
        .as_bytes()
    )
