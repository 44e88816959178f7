"""BFF-only reads of the orders service: a user's orders with their items.

Not part of the command service's public API (hidden from its OpenAPI, under
``/internal/bff``): it exists only so the BFF in ``services/bff`` can build, the way a
system without CQRS would, the answer the read API serves from its view. Each order comes
with its owner tag (services/order_owners.py), the BFF's proof to the invoices service that
the orders it asks about are the caller's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import psycopg
from fastapi import APIRouter, HTTPException, Query, Request, status
from psycopg.rows import class_row
from pydantic import BaseModel

from services.app import Conn
from services.auth import READ_ANY_USER, OrdersReader
from services.fields import STORABLE, contract_limits
from services.order_owners import OrderOwners, encode

router = APIRouter(prefix="/internal/bff", tags=["bff"], include_in_schema=False)


class OrderLine(BaseModel):
    product_id: str
    quantity: int


class UserOrder(BaseModel):
    order_id: UUID
    user_id: str
    customer_name: str
    status: str
    items: list[OrderLine]
    created_at: datetime
    updated_at: datetime
    owner_tag: str = ""  # filled by the route: HMAC of (user_id, order_id), base64url


def user_orders(conn: psycopg.Connection, user_id: str, limit: int) -> list[UserOrder]:
    """Newest first, along the index (user_id, created_at, order_id)."""
    with conn.cursor(row_factory=class_row(UserOrder)) as cur:
        cur.execute(
            "select order_id, user_id, customer_name, status, items, created_at, updated_at,"
            " '' as owner_tag"
            " from orders where user_id = %s"
            " order by created_at desc, order_id desc limit %s",
            (user_id, limit),
        )
        return cur.fetchall()


@router.get("/orders", response_model=list[UserOrder])
def orders_of_user(
    request: Request,
    caller: OrdersReader,
    conn: Conn,
    user_id: Annotated[
        str, Query(alias="userId", **contract_limits("order.created", "user_id")), STORABLE
    ],
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[UserOrder]:
    """The caller's orders (analyst and support: anyone's), as the read API's rule says."""
    if user_id != caller.subject and not caller.has_any(*READ_ANY_USER):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "userId must be the token's subject (or role analyst)"
        )
    owners: OrderOwners = request.app.state.order_owners
    return [
        order.model_copy(update={"owner_tag": encode(owners.tag(order.user_id, order.order_id))})
        for order in user_orders(conn, user_id, limit)
    ]
