"""Products: every product's stock in keyset pages, one product's stock, its daily history."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import psycopg
from fastapi import APIRouter, HTTPException, Query, Request, Response, status

from services.auth import Caller
from services.read_api import product_queries
from services.read_api.consistency import describe
from services.read_api.cursors import NOT_ISSUED, BadCursor, filters_digest
from services.read_api.dependencies import PRODUCT_ID_PATTERN, Context, Cursor, ProductId
from services.read_api.paging import BAD_INPUT, NOT_PUBLISHED, page, paged_responses
from services.read_api.product_queries import ProductStock, StockDay
from services.read_api.reading import reading
from services.read_api.serving import Row, answer
from services.responses import AUTHENTICATED, documented

router = APIRouter(tags=["products"])
_UNKNOWN = "No stock operation of this product was published"


@router.get(
    "/products",
    response_model=list[ProductStock],
    response_model_by_alias=True,
    responses=paged_responses(*AUTHENTICATED, 400, 422, 503, s503=NOT_PUBLISHED),
)
async def list_products(
    request: Request,
    user: Caller,
    ctx: Context,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Cursor = None,
) -> Response:
    digest = filters_digest()
    after = None if cursor is None else _product_key(ctx.cursors.decode(cursor, digest, 1))

    headers: dict[str, str] = {}

    async def read(conn: psycopg.AsyncConnection) -> list[Row]:
        await describe(conn, headers, "products", ctx.position, ctx.lookups)
        return await product_queries.products(conn, limit + 1, after)

    rows = await reading(request, read)
    return answer(page(rows, limit, headers, ctx.cursors, digest, _product_of), headers)


@router.get(
    "/products/{product_id}/stock",
    response_model=ProductStock,
    response_model_by_alias=True,
    responses=documented(
        *AUTHENTICATED, 400, 404, 422, 503, s400=BAD_INPUT, s404=_UNKNOWN, s503=NOT_PUBLISHED
    ),
)
async def product_stock(
    request: Request,
    product_id: ProductId,
    user: Caller,
    ctx: Context,
    as_of: Annotated[
        date | None,
        Query(alias="asOf", description="Stock at the end of this day (UTC), YYYY-MM-DD"),
    ] = None,
) -> Response:

    headers: dict[str, str] = {}

    async def read(conn: psycopg.AsyncConnection) -> Row | None:
        view = "products" if as_of is None else "product_stock_daily"
        await describe(conn, headers, view, ctx.position, ctx.lookups)
        if as_of is None:
            return await product_queries.product_stock(conn, product_id)
        return await product_queries.product_stock_as_of(conn, product_id, as_of)

    found = await reading(request, read)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown product {product_id!r}")
    return answer(found, headers)


@router.get(
    "/products/{product_id}/stock/history",
    response_model=list[StockDay],
    response_model_by_alias=True,
    responses=paged_responses(*AUTHENTICATED, 400, 404, 422, 503, s404=_UNKNOWN),
)
async def stock_history(
    request: Request,
    product_id: ProductId,
    user: Caller,
    ctx: Context,
    since: Annotated[date | None, Query(alias="from", description="first day (UTC)")] = None,
    until: Annotated[date | None, Query(alias="to", description="last day (UTC)")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 366,
    cursor: Cursor = None,
) -> Response:
    if since and until and since > until:
        raise HTTPException(422, "from must not be after to")
    digest = filters_digest(product_id=product_id, since=since, until=until)
    after = None if cursor is None else _day(ctx.cursors.decode(cursor, digest, 1)[0])

    headers: dict[str, str] = {}

    async def read(conn: psycopg.AsyncConnection) -> list[Row] | None:
        """The days, or None for a product with no operation."""
        await describe(conn, headers, "product_stock_daily", ctx.position, ctx.lookups)
        days = await product_queries.stock_history(
            conn, product_id, since=since, until=until, limit=limit + 1, after=after
        )
        unknown = not days and after is None
        if unknown and not await product_queries.product_exists(conn, product_id):
            return None
        return days

    days = await reading(request, read)
    if days is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown product {product_id!r}")
    return answer(page(days, limit, headers, ctx.cursors, digest, _day_of), headers)


def _product_of(row: Row) -> list[str]:
    return [row["productId"]]


def _day_of(row: Row) -> list[str]:
    return [row["day"].isoformat()]


def _product_key(key: list[object]) -> str:
    if not isinstance(key[0], str) or not PRODUCT_ID_PATTERN.fullmatch(key[0]):
        raise BadCursor(NOT_ISSUED)
    return key[0]


def _day(value: object) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise BadCursor(NOT_ISSUED) from None
