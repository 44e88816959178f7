"""Read API routes (GET only), one router per resource.

Every answer carries the freshness of the view it serves (``X-View-Published-At``,
``X-View-Newest-Event-At``) and, given ``X-Position-Token``, whether that write is in it.
Lists are keyset pages: ``X-Next-Cursor`` is set when there is a next page.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated
from uuid import UUID

import psycopg
from fastapi import APIRouter, HTTPException, Path, Query, Request, Response, status
from pydantic import AwareDatetime

from services.app import in_pool
from services.auth import READ_ANY_USER, Caller, OrdersReader
from services.fields import STORABLE, contract_limits
from services.read_api import cursors, freshness, product_queries, queries
from services.read_api.consistency import PositionToken, describe
from services.read_api.freshness_cache import FreshnessCache
from services.responses import AUTHENTICATED, documented

orders = APIRouter(tags=["orders"])
products = APIRouter(tags=["products"])
views = APIRouter(tags=["freshness"])

PRODUCT_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,200}$")
ProductId = Annotated[str, Path(pattern=PRODUCT_ID_PATTERN.pattern)]
Cursor = Annotated[
    str | None,
    Query(max_length=cursors.CURSOR_MAX_LENGTH, description="X-Next-Cursor of the last page"),
]
NEXT_CURSOR = "X-Next-Cursor"
_PAGED = {"headers": {NEXT_CURSOR: {"description": "Cursor of the next page, if any"}}}
_NOT_PUBLISHED = "No view has been published yet (the pipeline has not run)"
_BAD_INPUT = (
    "A cursor or position token this API did not issue (forged, damaged, or signed with a"
    " retired key), or a cursor reused with other filters"
)


def _paged(*codes: int, **descriptions: str) -> dict[int | str, dict[str, object]]:
    """A list route's responses: the errors it can answer, and the next-page cursor header."""
    return {200: _PAGED, **documented(*codes, s400=_BAD_INPUT, **descriptions)}


@orders.get(
    "/orders-with-invoices",
    response_model=list[queries.OrderWithInvoice],
    response_model_by_alias=True,
    responses=_paged(*AUTHENTICATED, 400, 403, 422, 503, s503=_NOT_PUBLISHED),
)
async def orders_with_invoices(
    request: Request,
    user: OrdersReader,
    response: Response,
    position: PositionToken,
    user_id: Annotated[
        str,
        Query(alias="userId", **contract_limits("order.created", "user_id")),
        STORABLE,
    ],
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    order_status: Annotated[queries.OrderStatus | None, Query(alias="status")] = None,
    created_from: Annotated[AwareDatetime | None, Query(alias="createdFrom")] = None,
    created_to: Annotated[
        AwareDatetime | None, Query(alias="createdTo", description="exclusive")
    ] = None,
    cursor: Cursor = None,
) -> list[queries.OrderWithInvoice]:
    if user_id != user.subject and not user.has_any(*READ_ANY_USER):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "userId must be the token's subject (or role analyst)"
        )
    if created_from and created_to and created_from >= created_to:
        raise HTTPException(422, "createdFrom must be before createdTo")
    filters = queries.OrderFilters(user_id, order_status, created_from, created_to)
    digest = cursors.filters_digest(**vars(filters))
    after = (
        None if cursor is None else _order_key(sealed_cursors(request).decode(cursor, digest, 2))
    )

    def read(conn: psycopg.Connection) -> list[queries.OrderWithInvoice]:
        describe(conn, response, "orders_with_invoices", position, kept(request))
        return queries.orders_with_invoices(conn, filters, limit + 1, after)

    rows = await in_pool(request, read)
    if len(rows) > limit:
        rows, last = rows[:limit], rows[limit - 1]
        response.headers[NEXT_CURSOR] = sealed_cursors(request).encode(
            digest, [last.created_at.isoformat(), str(last.order_id)]
        )
    return rows


def kept(request: Request) -> FreshnessCache:
    """This app's recent freshness lookups (one per app: tests run several in one process)."""
    cache: FreshnessCache = request.app.state.freshness
    return cache


def sealed_cursors(request: Request) -> cursors.Cursors:
    found: cursors.Cursors = request.app.state.cursors
    return found


def _order_key(key: list[object]) -> tuple[datetime, UUID]:
    try:
        at, order_id = datetime.fromisoformat(str(key[0])), UUID(str(key[1]))
    except ValueError:
        raise cursors.BadCursor(cursors.NOT_ISSUED) from None
    if at.tzinfo is None:
        raise cursors.BadCursor(cursors.NOT_ISSUED)
    return at, order_id


@products.get(
    "/products",
    response_model=list[queries.ProductStock],
    response_model_by_alias=True,
    responses=_paged(*AUTHENTICATED, 400, 422, 503, s503=_NOT_PUBLISHED),
)
async def list_products(
    request: Request,
    user: Caller,
    response: Response,
    position: PositionToken,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Cursor = None,
) -> list[queries.ProductStock]:
    digest = cursors.filters_digest()
    after = (
        None if cursor is None else _product_key(sealed_cursors(request).decode(cursor, digest, 1))
    )

    def read(conn: psycopg.Connection) -> list[queries.ProductStock]:
        describe(conn, response, "products", position, kept(request))
        return product_queries.products(conn, limit + 1, after)

    rows = await in_pool(request, read)
    if len(rows) > limit:
        rows = rows[:limit]
        response.headers[NEXT_CURSOR] = sealed_cursors(request).encode(
            digest, [rows[-1].product_id]
        )
    return rows


@products.get(
    "/products/{product_id}/stock",
    response_model=queries.ProductStock,
    response_model_by_alias=True,
    responses=documented(
        *AUTHENTICATED,
        400,
        404,
        422,
        503,
        s400=_BAD_INPUT,
        s404="No stock operation of this product was published",
        s503=_NOT_PUBLISHED,
    ),
)
async def product_stock(
    request: Request,
    product_id: ProductId,
    user: Caller,
    response: Response,
    position: PositionToken,
    as_of: Annotated[
        date | None,
        Query(alias="asOf", description="Stock at the end of this day (UTC), YYYY-MM-DD"),
    ] = None,
) -> queries.ProductStock:

    def read(conn: psycopg.Connection) -> queries.ProductStock | None:
        view = "products" if as_of is None else "product_stock_daily"
        describe(conn, response, view, position, kept(request))
        if as_of is None:
            return queries.product_stock(conn, product_id)
        return queries.product_stock_as_of(conn, product_id, as_of)

    found = await in_pool(request, read)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown product {product_id!r}")
    return found


@products.get(
    "/products/{product_id}/stock/history",
    response_model=list[product_queries.StockDay],
    response_model_by_alias=True,
    responses=_paged(*AUTHENTICATED, 400, 404, 422, 503, s404="No stock operation of this product"),
)
async def stock_history(
    request: Request,
    product_id: ProductId,
    user: Caller,
    response: Response,
    position: PositionToken,
    since: Annotated[date | None, Query(alias="from", description="first day (UTC)")] = None,
    until: Annotated[date | None, Query(alias="to", description="last day (UTC)")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 366,
    cursor: Cursor = None,
) -> list[product_queries.StockDay]:
    if since and until and since > until:
        raise HTTPException(422, "from must not be after to")
    digest = cursors.filters_digest(product_id=product_id, since=since, until=until)
    after = None if cursor is None else _day(sealed_cursors(request).decode(cursor, digest, 1)[0])

    def read(conn: psycopg.Connection) -> list[product_queries.StockDay] | None:
        """The days, or None for a product with no operation."""
        describe(conn, response, "product_stock_daily", position, kept(request))
        days = product_queries.stock_history(
            conn, product_id, since=since, until=until, limit=limit + 1, after=after
        )
        if not days and after is None and not product_queries.product_exists(conn, product_id):
            return None
        return days

    days = await in_pool(request, read)
    if days is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown product {product_id!r}")
    if len(days) > limit:
        days = days[:limit]
        response.headers[NEXT_CURSOR] = sealed_cursors(request).encode(
            digest, [days[-1].day.isoformat()]
        )
    return days


def _product_key(key: list[object]) -> str:
    if not isinstance(key[0], str) or not PRODUCT_ID_PATTERN.fullmatch(key[0]):
        raise cursors.BadCursor(cursors.NOT_ISSUED)
    return key[0]


def _day(value: object) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise cursors.BadCursor(cursors.NOT_ISSUED) from None


@views.get(
    "/freshness",
    response_model=list[freshness.ViewFreshness],
    response_model_by_alias=True,
    responses=documented(*AUTHENTICATED, 503, s503=_NOT_PUBLISHED),
)
async def view_freshness(request: Request, user: Caller) -> list[freshness.ViewFreshness]:
    """Each published view: when it was published and how far behind its events it is."""
    return await in_pool(request, freshness.latest)
