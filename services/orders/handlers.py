"""Orders service layer: load, decide, save state and outbox row in one unit of work."""

from __future__ import annotations

from typing import Any

from contracts.envelope import EventMeta
from services.errors import Conflict
from services.events import envelope
from services.idempotency import Idempotency, Response, run_once
from services.orders import domain
from services.orders.unit_of_work import OrdersUnitOfWork
from services.position import POSITION, payload_of


def _view(order: domain.Order, recorded: dict[str, Any]) -> dict[str, Any]:
    return {
        "order_id": str(order.order_id),
        "status": order.status,
        "version": order.version,
        POSITION: payload_of(recorded),
    }


def create_order(
    uow: OrdersUnitOfWork, cmd: domain.CreateOrder, meta: EventMeta, idem: Idempotency
) -> Response:
    def action() -> Response:
        order, event = domain.create_order(cmd)
        recorded = envelope(event, meta)
        # The row keeps its event's time, so the service and the views tell the same time.
        if not uow.orders.add(order, at=recorded["occurred_at"]):
            raise Conflict("an order with this id already exists", order_id=str(order.order_id))
        uow.outbox.add(recorded)
        return 201, _view(order, recorded)

    return run_once(uow, user_id=cmd.user_id, request=idem, action=action)


def cancel_order(
    uow: OrdersUnitOfWork, cmd: domain.CancelOrder, meta: EventMeta, idem: Idempotency
) -> Response:
    def action() -> Response:
        order, event = domain.cancel_order(uow.orders.get(cmd.order_id), cmd)
        recorded = envelope(event, meta)
        uow.orders.save(order, at=recorded["occurred_at"])
        uow.outbox.add(recorded)
        return 200, _view(order, recorded)

    return run_once(uow, user_id=cmd.user_id, request=idem, action=action)
