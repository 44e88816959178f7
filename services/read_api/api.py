"""Read API routes (GET only), one router per resource."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, status

from services.app import Conn
from services.auth import READ_ANY_USER, Caller, OrdersReader
from services.fields import STORABLE, contract_limits
from services.read_api import queries
from services.responses import AUTHENTICATED, documented

orders = APIRouter(tags=["orders"])
products = APIRouter(tags=["products"])

_NOT_PUBLISHED = "No view has been published yet (the pipeline has not run)"

ProductId = Annotated[str, Path(pattern=r"^[A-Za-z0-9._:-]{1,200}$")]


@orders.get(
    "/orders-with-invoices",
    response_model=list[queries.OrderWithInvoice],
    response_model_by_alias=True,
    responses=documented(*AUTHENTICATED, 403, 422, 503, s503=_NOT_PUBLISHED),
)
def orders_with_invoices(
    user: OrdersReader,
    conn: Conn,
    user_id: Annotated[
        str,
        Query(alias="userId", **contract_limits("order.created", "user_id")),
        STORABLE,
    ],
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[queries.OrderWithInvoice]:
    if user_id != user.subject and not user.has_any(*READ_ANY_USER):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "userId must be the token's subject (or role analyst)"
        )
    return queries.orders_with_invoices(conn, user_id, limit)


@products.get(
    "/products/{product_id}/stock",
    response_model=queries.ProductStock,
    response_model_by_alias=True,
    responses=documented(
        *AUTHENTICATED,
        404,
        422,
        503,
        s404="No stock operation of this product was published",
        s503=_NOT_PUBLISHED,
    ),
)
def product_stock(
    product_id: ProductId,
    _: Caller,
    conn: Conn,
    as_of: Annotated[
        date | None,
        Query(alias="asOf", description="Stock at the end of this day (UTC), YYYY-MM-DD"),
    ] = None,
) -> queries.ProductStock:
    found = (
        queries.product_stock(conn, product_id)
        if as_of is None
        else queries.product_stock_as_of(conn, product_id, as_of)
    )
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown product {product_id!r}")
    return found
