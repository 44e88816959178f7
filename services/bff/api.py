"""The BFF's one route: the read API's ``/orders-with-invoices`` answer, built without CQRS.

It asks the orders service for the user's orders, then the invoices service for those
orders' invoices, and joins them in Python: two HTTP calls and two databases per request,
where the read API reads one published view.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, status

from services.auth import READ_ANY_USER, OrdersReader
from services.bff.join import join
from services.bff.upstream import Upstreams
from services.fields import STORABLE, contract_limits
from services.read_api.view_models import OrderWithInvoice
from services.responses import AUTHENTICATED, documented

router = APIRouter(tags=["bff"])


@router.get(
    "/orders-with-invoices",
    response_model=list[OrderWithInvoice],
    response_model_by_alias=True,
    responses=documented(*AUTHENTICATED, 403, 422, 503),
)
async def orders_with_invoices(
    request: Request,
    user: OrdersReader,
    user_id: Annotated[
        str, Query(alias="userId", **contract_limits("order.created", "user_id")), STORABLE
    ],
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[OrderWithInvoice]:
    """The user's newest orders with their invoice URL and status, as the read API answers."""
    if user_id != user.subject and not user.has_any(*READ_ANY_USER):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "userId must be the token's subject (or role analyst)"
        )
    upstream: Upstreams = request.app.state.upstreams
    authorization = request.headers["authorization"]  # the request guard checked it
    orders = await upstream.orders(authorization, user_id, limit)
    invoices = await upstream.invoices(authorization, orders) if orders else []
    return join(orders, invoices)
