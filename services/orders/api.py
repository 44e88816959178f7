"""Orders HTTP routes: request -> command -> handler; nothing else."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from services.app import Conn, IdempotentRequest
from services.auth import CurrentUser
from services.orders import domain, handlers
from services.orders.unit_of_work import OrdersUnitOfWork, PostgresOrdersUnitOfWork
from services.position import PositionToken
from services.telemetry import Meta

router = APIRouter(tags=["orders"])


def _unit_of_work(conn: Conn) -> OrdersUnitOfWork:
    return PostgresOrdersUnitOfWork(conn)


UnitOfWork = Annotated[OrdersUnitOfWork, Depends(_unit_of_work)]


class OrderLineIn(BaseModel):
    product_id: str = Field(min_length=1, max_length=200)
    quantity: int = Field(ge=1, le=1_000_000)


class CreateOrderIn(BaseModel):
    order_id: uuid.UUID | None = Field(
        default=None, description="Client-chosen id (optional); a new one is generated if absent."
    )
    customer_name: str = Field(min_length=1, max_length=200)
    items: list[OrderLineIn] = Field(default_factory=list, max_length=500)


class CancelOrderIn(BaseModel):
    reason: str | None = Field(default=None, max_length=500)


class OrderOut(BaseModel):
    order_id: uuid.UUID
    status: domain.Status
    version: int
    position_token: PositionToken


@router.post("/orders", status_code=201, response_model=OrderOut)
def create_order(
    body: CreateOrderIn, user: CurrentUser, uow: UnitOfWork, meta: Meta, idem: IdempotentRequest
) -> JSONResponse:
    cmd = domain.CreateOrder(
        order_id=body.order_id or uuid.uuid4(),
        user_id=user,
        customer_name=body.customer_name,
        items=tuple(domain.OrderLine(i.product_id, i.quantity) for i in body.items),
    )
    status, out = handlers.create_order(uow, cmd, meta, idem)
    return JSONResponse(out, status_code=status)


@router.post("/orders/{order_id}/cancel", response_model=OrderOut)
def cancel_order(
    order_id: uuid.UUID,
    user: CurrentUser,
    uow: UnitOfWork,
    meta: Meta,
    idem: IdempotentRequest,
    body: CancelOrderIn | None = None,
) -> JSONResponse:
    cmd = domain.CancelOrder(order_id, user, body.reason if body else None)
    status, out = handlers.cancel_order(uow, cmd, meta, idem)
    return JSONResponse(out, status_code=status)
