"""Orders handlers: create, cancel, and what a unit of work keeps."""

from __future__ import annotations

import uuid

import pytest

from contracts.envelope import validate
from services.errors import Conflict, NotFound
from services.events import envelope
from services.orders import domain as orders
from services.orders import handlers as order_handlers
from services.position import POSITION, payload_of
from tests.handlers_contract.backend import META, NO_KEY, Backend


class OrderHandlersContract(Backend):
    def test_create_order_records_order_created(self) -> None:
        cmd = orders.CreateOrder(uuid.uuid4(), "alice", "Alice", (orders.OrderLine("sku-1", 2),))
        response = order_handlers.create_order(self.orders_uow(), cmd, META, NO_KEY)
        order_id = str(cmd.order_id)
        [event] = self.outbox("orders", order_id)
        # The position names the event the outbox holds: where it will be in the log.
        where = payload_of(event)
        assert response == (
            201,
            {"order_id": order_id, "status": "created", "version": 1, POSITION: where},
        )
        assert validate(event) == event
        assert (event["event_type"], event["schema_version"]) == ("order.created", 2)
        assert (event["aggregate_version"], event["producer"]) == (1, "tests")
        assert event["request_id"] == "req-1"
        assert event["payload"] == {
            "order_id": order_id,
            "user_id": "alice",
            "customer_name": "Alice",
            "items": [{"product_id": "sku-1", "quantity": 2}],
            "channel": "api",
        }

    def test_an_order_id_is_taken_once(self) -> None:
        cmd = self.create()
        with pytest.raises(Conflict):
            order_handlers.create_order(self.orders_uow(), cmd, META, NO_KEY)
        assert len(self.outbox("orders", str(cmd.order_id))) == 1

    def test_cancel_order_by_its_owner_once(self) -> None:
        cmd = self.create()
        cancel = orders.CancelOrder(cmd.order_id, "alice", "late")
        with pytest.raises(NotFound):
            order_handlers.cancel_order(
                self.orders_uow(), orders.CancelOrder(cmd.order_id, "mallory"), META, NO_KEY
            )
        response = order_handlers.cancel_order(self.orders_uow(), cancel, META, NO_KEY)
        with pytest.raises(Conflict):
            order_handlers.cancel_order(self.orders_uow(), cancel, META, NO_KEY)
        created, cancelled = self.outbox("orders", str(cmd.order_id))
        assert response == (
            200,
            {
                "order_id": str(cmd.order_id),
                "status": "cancelled",
                "version": 2,
                POSITION: payload_of(cancelled),
            },
        )
        assert created["event_type"] == "order.created"
        assert (cancelled["event_type"], cancelled["aggregate_version"]) == ("order.cancelled", 2)
        assert cancelled["payload"] == {"order_id": str(cmd.order_id), "reason": "late"}

    def test_cancel_an_unknown_order_is_not_found(self) -> None:
        cancel = orders.CancelOrder(uuid.uuid4(), "alice")
        with pytest.raises(NotFound):
            order_handlers.cancel_order(self.orders_uow(), cancel, META, NO_KEY)

    def test_a_unit_of_work_keeps_nothing_without_commit(self) -> None:
        order, event = orders.create_order(orders.CreateOrder(uuid.uuid4(), "alice", "Alice"))
        with self.orders_uow() as uow:
            assert uow.orders.add(order)
            uow.outbox.add(envelope(event, META))
        with self.orders_uow() as uow:
            assert uow.orders.get(order.order_id) is None
        assert self.outbox("orders", str(order.order_id)) == []
