"""Order aggregate: pure decisions, no IO."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal
from uuid import UUID

from contracts.envelope import Recorded
from services.errors import Conflict, NotFound

Status = Literal["created", "cancelled"]


@dataclass(frozen=True)
class OrderLine:
    product_id: str
    quantity: int


@dataclass(frozen=True)
class CreateOrder:
    order_id: UUID
    user_id: str
    customer_name: str
    items: tuple[OrderLine, ...] = ()


@dataclass(frozen=True)
class CancelOrder:
    order_id: UUID
    user_id: str
    reason: str | None = None


@dataclass(frozen=True)
class Order:
    order_id: UUID
    user_id: str
    customer_name: str
    items: tuple[OrderLine, ...]
    status: Status
    version: int


def create_order(cmd: CreateOrder) -> tuple[Order, Recorded]:
    order = Order(cmd.order_id, cmd.user_id, cmd.customer_name, cmd.items, "created", 1)
    event = Recorded(
        "order.created",
        str(order.order_id),
        order.version,
        {
            "order_id": str(order.order_id),
            "user_id": order.user_id,
            "customer_name": order.customer_name,
            "items": [{"product_id": i.product_id, "quantity": i.quantity} for i in order.items],
            "channel": "api",
        },
    )
    return order, event


def cancel_order(order: Order | None, cmd: CancelOrder) -> tuple[Order, Recorded]:
    # Another user's order is reported as missing, so ids cannot be probed.
    if order is None or order.user_id != cmd.user_id:
        raise NotFound("order not found", order_id=str(cmd.order_id))
    if order.status == "cancelled":
        raise Conflict("order is already cancelled", order_id=str(cmd.order_id))
    cancelled = replace(order, status="cancelled", version=order.version + 1)
    event = Recorded(
        "order.cancelled",
        str(order.order_id),
        cancelled.version,
        {"order_id": str(order.order_id), "reason": cmd.reason},
    )
    return cancelled, event
