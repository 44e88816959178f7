"""Order aggregate: commands, the events it records and pure decisions, no IO."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal
from uuid import UUID

from services.errors import Conflict, NotFound
from services.events import DomainEvent

Status = Literal["created", "cancelled"]
# Where this service's orders come from (order.created v2's ``channel``): its HTTP API.
CHANNEL = "api"


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
class OrderCreated(DomainEvent, event_type="order.created", schema_version=2):
    order_id: UUID
    user_id: str
    customer_name: str
    items: tuple[OrderLine, ...]
    channel: str

    @property
    def aggregate_id(self) -> str:
        return str(self.order_id)


@dataclass(frozen=True)
class OrderCancelled(DomainEvent, event_type="order.cancelled", schema_version=1):
    order_id: UUID
    reason: str | None

    @property
    def aggregate_id(self) -> str:
        return str(self.order_id)


@dataclass(frozen=True)
class Order:
    order_id: UUID
    user_id: str
    customer_name: str
    items: tuple[OrderLine, ...]
    status: Status
    version: int


def create_order(cmd: CreateOrder) -> tuple[Order, OrderCreated]:
    order = Order(cmd.order_id, cmd.user_id, cmd.customer_name, cmd.items, "created", 1)
    event = OrderCreated(
        aggregate_version=order.version,
        order_id=order.order_id,
        user_id=order.user_id,
        customer_name=order.customer_name,
        items=order.items,
        channel=CHANNEL,
    )
    return order, event


def cancel_order(order: Order | None, cmd: CancelOrder) -> tuple[Order, OrderCancelled]:
    # Another user's order is reported as missing, so ids cannot be probed.
    if order is None or order.user_id != cmd.user_id:
        raise NotFound("order not found", order_id=str(cmd.order_id))
    if order.status == "cancelled":
        raise Conflict("order is already cancelled", order_id=str(cmd.order_id))
    cancelled = replace(order, status="cancelled", version=order.version + 1)
    event = OrderCancelled(
        aggregate_version=cancelled.version, order_id=order.order_id, reason=cmd.reason
    )
    return cancelled, event
