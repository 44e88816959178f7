"""Idempotency-Key: a retry gets the first response; a key is one request's, once it commits."""

from __future__ import annotations

import uuid

import pytest

from services.idempotency import Idempotency, KeyReused
from services.orders import domain as orders
from services.orders import handlers as order_handlers
from services.position import POSITION, payload_of
from services.stock import domain as stock
from tests.handlers_contract.backend import META, Backend


def new_key(fingerprint: str = "request-1") -> Idempotency:
    return Idempotency(f"k-{uuid.uuid4()}", fingerprint)


class IdempotencyContract(Backend):
    def test_a_retry_gets_the_first_response_and_changes_nothing(self) -> None:
        key = new_key()
        first = self.create(key=key)
        # The API gives a retried POST a new order id; the key still finds the first order.
        retry = orders.CreateOrder(uuid.uuid4(), "alice", "Alice")
        again = order_handlers.create_order(self.orders_uow(), retry, META, key)
        [event] = self.outbox("orders", str(first.order_id))
        assert again == (
            201,
            {
                "order_id": str(first.order_id),
                "status": "created",
                "version": 1,
                POSITION: payload_of(event),
            },
        )
        assert self.outbox("orders", str(retry.order_id)) == []

    def test_a_key_used_for_another_request_is_refused(self) -> None:
        key = new_key("request-1")
        self.create(key=key)
        with pytest.raises(KeyReused) as refused:
            self.create(key=Idempotency(key.key, "request-2"))
        assert refused.value.details == {"key": key.key}

    def test_keys_belong_to_their_user(self) -> None:
        key = new_key()
        alice, bob = self.create("alice", key), self.create("bob", key)
        assert alice.order_id != bob.order_id
        assert len(self.outbox("orders", str(bob.order_id))) == 1

    def test_a_refused_command_leaves_its_key_unused(self) -> None:
        product, key = f"sku-{uuid.uuid4().hex[:8]}", new_key()
        with pytest.raises(stock.InsufficientStock):
            self.change(product, "decrease", 1, key=key)
        self.change(product, "increase", 1)
        status, body = self.change(product, "decrease", 1, key=key)
        assert (status, body["stock"], body["version"]) == (201, 0, 2)

    def test_a_retry_after_a_lost_race_gets_the_first_response(self) -> None:
        product, key = f"sku-{uuid.uuid4().hex[:8]}", new_key()
        racing = self.racing(product, "increase", 1)
        first = self.change(product, "increase", 5, uow=racing, key=key)
        assert first == self.change(product, "increase", 5, key=key)
        assert self.stock_of(product) == stock.ProductStock(product, 6, 2)
