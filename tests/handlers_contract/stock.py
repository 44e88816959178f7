"""Stock handler: increase, decrease, refusal below zero, snapshots, version races."""

from __future__ import annotations

import uuid

import pytest

from services.position import POSITION, payload_of
from services.stock import domain as stock
from services.stock.handlers import TooMuchContention
from tests.handlers_contract.backend import Backend


def new_product() -> str:
    return f"sku-{uuid.uuid4().hex[:8]}"


class StockHandlersContract(Backend):
    def test_increase_and_decrease_append_to_the_log(self) -> None:
        product = new_product()
        status, body = self.change(product, "increase", 5)
        assert (status, body) == (
            201,
            {
                "product_id": product,
                "operation": "increase",
                "stock_amount": 5,
                "amount": 5,
                "stock": 5,
                "version": 1,
                POSITION: payload_of(self.outbox("stock", product)[0]),
            },
        )
        status, body = self.change(product, "decrease", 2)
        assert (status, body["stock"], body["version"]) == (201, 3, 2)
        assert self.stock_of(product) == stock.ProductStock(product, 3, 2)
        events = self.outbox("stock", product)
        assert [e["aggregate_version"] for e in events] == [1, 2]
        assert events[1]["event_type"] == "stock.updated"
        assert events[1]["payload"] == {
            "product_id": product,
            "operation": "decrease",
            "stock_amount": 2,
        }

    def test_decrease_below_zero_is_refused_and_records_nothing(self) -> None:
        product = new_product()
        self.change(product, "increase", 5)
        with pytest.raises(stock.InsufficientStock) as refused:
            self.change(product, "decrease", 6)
        assert refused.value.details == {"product_id": product, "stock": 5, "requested": 6}
        assert self.stock_of(product) == stock.ProductStock(product, 5, 1)
        assert len(self.outbox("stock", product)) == 1

    def test_snapshots_change_no_answer(self) -> None:
        product = new_product()
        for operation, amount in [("increase", 3), ("decrease", 1), ("decrease", 1)] * 3:
            self.change(product, operation, amount, snapshot_every=2)  # type: ignore[arg-type]
        with self.stock_uow() as uow:
            with_snapshots = uow.stock.load(product)
            replayed = uow.stock.load(product, use_snapshots=False)
        assert with_snapshots == replayed == stock.ProductStock(product, 3, 9)

    def test_a_lost_version_race_is_decided_again(self) -> None:
        product = new_product()
        self.change(product, "increase", 5)
        status, body = self.change(product, "decrease", 2, uow=self.racing(product, "decrease", 1))
        assert (status, body["stock"], body["version"]) == (201, 2, 3)
        assert self.stock_of(product) == stock.ProductStock(product, 2, 3)
        events = self.outbox("stock", product)
        assert [e["aggregate_version"] for e in events] == [1, 2, 3]

    def test_a_lost_race_can_turn_into_a_refusal(self) -> None:
        product = new_product()
        self.change(product, "increase", 1)
        with pytest.raises(stock.InsufficientStock):
            self.change(product, "decrease", 1, uow=self.racing(product, "decrease", 1))
        assert self.stock_of(product) == stock.ProductStock(product, 0, 2)

    def test_losing_every_race_gives_up(self) -> None:
        product = new_product()
        with pytest.raises(TooMuchContention):
            self.change(
                product, "increase", 1, uow=self.racing(product, "increase", 3), max_attempts=3
            )
        assert self.stock_of(product) == stock.ProductStock(product, 3, 3)
