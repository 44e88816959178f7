"""Read API routes (GET only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from services.app import Conn
from services.auth import CurrentUser
from services.read_api import queries

router = APIRouter(tags=["views"])


@router.get(
    "/orders-with-invoices",
    response_model=list[queries.OrderWithInvoice],
    response_model_by_alias=True,
)
def orders_with_invoices(
    user: CurrentUser,
    conn: Conn,
    user_id: Annotated[str, Query(alias="userId", min_length=1, max_length=200)],
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[queries.OrderWithInvoice]:
    if user_id != user:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "userId must be the token's subject")
    return queries.orders_with_invoices(conn, user_id, limit)
