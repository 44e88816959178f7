"""Products: every product's stock in keyset pages, one product's stock, its daily history."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import psycopg
from fastapi import APIRouter, HTTPException, Request, Response, status
from pydantic import BaseModel, Field

from services.auth import caller
from services.read_api import product_queries
from services.read_api.consistency import describe
from services.read_api.cursors import NOT_ISSUED, BadCursor, filters_digest
from services.read_api.inputs import (
    PRODUCT_ID_PATTERN,
    Cursor,
    ProductId,
    read_inputs,
    read_openapi,
)
from services.read_api.paging import BAD_INPUT, NOT_PUBLISHED, page, paged_responses
from services.read_api.parameters import Parameters
from services.read_api.product_queries import ProductStock, StockDay
from services.read_api.reading import reading
from services.read_api.request_route import RequestRoute
from services.read_api.serving import Row, answer
from services.responses import AUTHENTICATED, documented

router = APIRouter(tags=["products"], route_class=RequestRoute)
_UNKNOWN = "No stock operation of this product was published"
_ALL = filters_digest()  # the product list takes no filters


class ProductsQuery(BaseModel):
    limit: Annotated[int, Field(ge=1, le=1000)] = 100
    cursor: Cursor = None


class StockQuery(BaseModel):
    product_id: ProductId
    as_of: Annotated[
        date | None,
        Field(alias="asOf", description="Stock at the end of this day (UTC), YYYY-MM-DD"),
    ] = None


class HistoryQuery(BaseModel):
    product_id: ProductId
    since: Annotated[date | None, Field(alias="from", description="first day (UTC)")] = None
    until: Annotated[date | None, Field(alias="to", description="last day (UTC)")] = None
    limit: Annotated[int, Field(ge=1, le=1000)] = 366
    cursor: Cursor = None


_PRODUCTS, _STOCK, _HISTORY = (
    Parameters(ProductsQuery),
    Parameters(StockQuery),
    Parameters(HistoryQuery),
)


@router.get(
    "/products",
    response_model=list[ProductStock],
    response_model_by_alias=True,
    responses=paged_responses(*AUTHENTICATED, 400, 422, 503, s503=NOT_PUBLISHED),
    openapi_extra=read_openapi(_PRODUCTS),
)
async def list_products(request: Request) -> Response:
    caller(request)
    ctx, query = read_inputs(request, _PRODUCTS)
    limit, cursor = query.limit, query.cursor
    after = None if cursor is None else _product_key(ctx.cursors.decode(cursor, _ALL, 1))

    headers: dict[str, str] = {}

    async def read(conn: psycopg.AsyncConnection) -> list[Row]:
        await describe(conn, headers, "products", ctx.position, ctx.lookups)
        return await product_queries.products(conn, limit + 1, after)

    rows = await reading(request, read)
    return answer(page(rows, limit, headers, ctx.cursors, {}, _product_of), headers)


@router.get(
    "/products/{product_id}/stock",
    response_model=ProductStock,
    response_model_by_alias=True,
    responses=documented(
        *AUTHENTICATED, 400, 404, 422, 503, s400=BAD_INPUT, s404=_UNKNOWN, s503=NOT_PUBLISHED
    ),
    openapi_extra=read_openapi(_STOCK),
)
async def product_stock(request: Request) -> Response:
    caller(request)
    ctx, query = read_inputs(request, _STOCK)
    product_id, as_of = query.product_id, query.as_of

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
    openapi_extra=read_openapi(_HISTORY),
)
async def stock_history(request: Request) -> Response:
    caller(request)
    ctx, query = read_inputs(request, _HISTORY)
    product_id, since, until, limit = query.product_id, query.since, query.until, query.limit
    if since and until and since > until:
        raise HTTPException(422, "from must not be after to")
    bound = {"product_id": product_id, "since": since, "until": until}
    after = None
    if query.cursor is not None:
        after = _day(ctx.cursors.decode(query.cursor, filters_digest(**bound), 1)[0])

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
    return answer(page(days, limit, headers, ctx.cursors, bound, _day_of), headers)


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
