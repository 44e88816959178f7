"""Orders with their invoices: one user's orders, newest first, in keyset pages."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import psycopg
from fastapi import APIRouter, HTTPException, Request, Response, status
from pydantic import AwareDatetime, BaseModel, Field

from services.auth import ORDERS_READERS, READ_ANY_USER, caller
from services.fields import IN_UTC, STORABLE, contract_limits
from services.read_api import order_queries
from services.read_api.consistency import describe, describe_kept
from services.read_api.cursors import NOT_ISSUED, BadCursor, filters_digest
from services.read_api.inputs import Cursor, read_inputs, read_openapi
from services.read_api.paging import NOT_PUBLISHED, page, paged_responses
from services.read_api.parameters import Parameters
from services.read_api.read_batches import ReadBatches
from services.read_api.reading import reading
from services.read_api.request_route import RequestRoute
from services.read_api.serving import Row, answer
from services.read_api.view_models import OrderWithInvoice
from services.responses import AUTHENTICATED

router = APIRouter(tags=["orders"], route_class=RequestRoute)
_VIEW = "orders_with_invoices"
OrderPages = ReadBatches[order_queries.Shape, order_queries.PageAsk, list[Row]]


class OrdersQuery(BaseModel):
    user_id: Annotated[
        str, Field(alias="userId", **contract_limits("order.created", "user_id")), STORABLE
    ]
    limit: Annotated[int, Field(ge=1, le=1000)] = 100
    status: order_queries.OrderStatus | None = None
    created_from: Annotated[Annotated[AwareDatetime, IN_UTC] | None, Field(alias="createdFrom")] = (
        None
    )
    created_to: Annotated[
        Annotated[AwareDatetime, IN_UTC] | None, Field(alias="createdTo", description="exclusive")
    ] = None
    cursor: Cursor = None


_QUERY = Parameters(OrdersQuery)


@router.get(
    "/orders-with-invoices",
    response_model=list[OrderWithInvoice],
    response_model_by_alias=True,
    responses=paged_responses(*AUTHENTICATED, 400, 403, 422, 503, s503=NOT_PUBLISHED),
    openapi_extra=read_openapi(_QUERY),
)
async def orders_with_invoices(request: Request) -> Response:
    user = caller(request, *ORDERS_READERS)
    ctx, query = read_inputs(request, _QUERY)
    if query.user_id != user.subject and not user.has_any(*READ_ANY_USER):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "userId must be the token's subject (or role analyst)"
        )
    created_from, created_to = query.created_from, query.created_to
    if created_from and created_to and created_from >= created_to:
        raise HTTPException(422, "createdFrom must be before createdTo")
    limit, cursor = query.limit, query.cursor
    filters = order_queries.OrderFilters(query.user_id, query.status, created_from, created_to)
    bound = vars(filters)  # what a cursor is bound to
    after = None
    if cursor is not None:
        after = _order_key(ctx.cursors.decode(cursor, filters_digest(**bound), 2))

    headers: dict[str, str] = {}
    if ctx.position is not None:  # freshness, the write's stage and the rows on one connection

        async def read(conn: psycopg.AsyncConnection) -> list[Row]:
            await describe(conn, headers, _VIEW, ctx.position, ctx.lookups)
            return await order_queries.orders_with_invoices(conn, filters, limit + 1, after)

        rows = await reading(request, read)
    else:  # freshness first (kept, or looked up), then the rows, with other waiting pages
        if not describe_kept(headers, _VIEW, ctx.lookups):
            await reading(request, lambda conn: describe(conn, headers, _VIEW, None, ctx.lookups))
        ask = order_queries.PageAsk(filters, limit + 1, after)
        pages: OrderPages = request.app.state.order_pages
        rows = await pages.read(request.app.state.read_pool, ask.shape, ask)
    served = page(rows, limit, headers, ctx.cursors, bound, _key)
    return answer(served, headers)


def _key(row: Row) -> list[str]:
    return [row["createdAt"].isoformat(), str(row["orderId"])]


def _order_key(key: list[object]) -> tuple[datetime, UUID]:
    try:
        at, order_id = datetime.fromisoformat(str(key[0])), UUID(str(key[1]))
    except ValueError:
        raise BadCursor(NOT_ISSUED) from None
    if at.tzinfo is None:
        raise BadCursor(NOT_ISSUED)
    return at, order_id
