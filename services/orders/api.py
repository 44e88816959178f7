"""Orders HTTP routes: request -> command -> handler; nothing else."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from services.app import Conn, IdempotentRequest, PositionSeal
from services.auth import Customer
from services.fields import STORABLE, contract_field
from services.orders import domain, handlers
from services.orders.unit_of_work import OrdersUnitOfWork, PostgresOrdersUnitOfWork
from services.position import PositionToken
from services.responses import WITH_BODY, documented
from services.telemetry import Meta

router = APIRouter(tags=["orders"])


def _unit_of_work(conn: Conn) -> OrdersUnitOfWork:
    return PostgresOrdersUnitOfWork(conn)


UnitOfWork = Annotated[OrdersUnitOfWork, Depends(_unit_of_work)]


_LINE = ("order.created", "items", "[]")


class OrderLineIn(BaseModel):
    product_id: Annotated[str, contract_field(*_LINE, "product_id"), STORABLE]
    quantity: Annotated[int, contract_field(*_LINE, "quantity")]


class CreateOrderIn(BaseModel):
    order_id: uuid.UUID | None = Field(
        default=None, description="Client-chosen id (optional); a new one is generated if absent."
    )
    customer_name: Annotated[str, contract_field("order.created", "customer_name"), STORABLE]
    items: Annotated[list[OrderLineIn], contract_field("order.created", "items")] = Field(
        default_factory=list
    )


class CancelOrderIn(BaseModel):
    reason: Annotated[str, contract_field("order.cancelled", "reason"), STORABLE] | None = None


class OrderOut(BaseModel):
    order_id: uuid.UUID
    status: domain.Status
    version: int
    position_token: PositionToken


@router.post(
    "/orders",
    status_code=201,
    response_model=OrderOut,
    responses=documented(*WITH_BODY, 403, 409, s409="An order with this id already exists"),
)
def create_order(
    body: CreateOrderIn,
    user: Customer,
    uow: UnitOfWork,
    meta: Meta,
    idem: IdempotentRequest,
    seal: PositionSeal,
) -> JSONResponse:
    cmd = domain.CreateOrder(
        order_id=body.order_id or uuid.uuid4(),
        user_id=user.subject,
        customer_name=body.customer_name,
        items=tuple(domain.OrderLine(i.product_id, i.quantity) for i in body.items),
    )
    status, out = handlers.create_order(uow, cmd, meta, idem)
    return JSONResponse(seal.answer(out), status_code=status)


@router.post(
    "/orders/{order_id}/cancel",
    response_model=OrderOut,
    responses=documented(
        *WITH_BODY,
        403,
        404,
        409,
        s404="No such order of the caller's",
        s409="The order is already cancelled",
    ),
)
def cancel_order(
    order_id: uuid.UUID,
    user: Customer,
    uow: UnitOfWork,
    meta: Meta,
    idem: IdempotentRequest,
    seal: PositionSeal,
    body: CancelOrderIn | None = None,
) -> JSONResponse:
    cmd = domain.CancelOrder(order_id, user.subject, body.reason if body else None)
    status, out = handlers.cancel_order(uow, cmd, meta, idem)
    return JSONResponse(seal.answer(out), status_code=status)
