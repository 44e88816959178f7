"""What the handler tests need from a backend: units of work and a view of the outbox."""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import datetime
from typing import Any

from contracts.envelope import EventMeta
from services.idempotency import Idempotency, Response
from services.invoices.unit_of_work import InvoicesUnitOfWork
from services.orders import domain as orders
from services.orders import handlers as order_handlers
from services.orders.unit_of_work import OrdersUnitOfWork
from services.stock import domain as stock
from services.stock import handlers as stock_handlers
from services.stock.repository import StockRepository
from services.stock.unit_of_work import StockUnitOfWork

META = EventMeta(producer="tests", request_id="req-1")
NO_KEY = Idempotency(None, "")


class RacingStock(StockRepository):
    """Lets another writer append right after each of the first ``races`` loads."""

    def __init__(self, inner: StockRepository, race: Callable[[], object], races: int):
        self.inner, self.race, self.races = inner, race, races

    def load(self, product_id: str, *, use_snapshots: bool = True) -> stock.ProductStock:
        state = self.inner.load(product_id, use_snapshots=use_snapshots)
        if self.races > 0:
            self.races -= 1
            self.race()
        return state

    def append(
        self,
        product_id: str,
        op: stock.StockOperation,
        *,
        event_id: str,
        occurred_at: datetime | str,
        request_id: str | None,
    ) -> None:
        self.inner.append(
            product_id, op, event_id=event_id, occurred_at=occurred_at, request_id=request_id
        )

    def save_snapshot(self, state: stock.ProductStock) -> None:
        self.inner.save_snapshot(state)


class Backend(ABC):
    """Implemented once per backend; the helpers below are shared by every test."""

    @abstractmethod
    def orders_uow(self) -> OrdersUnitOfWork: ...

    @abstractmethod
    def invoices_uow(self) -> InvoicesUnitOfWork: ...

    @abstractmethod
    def stock_uow(self) -> StockUnitOfWork: ...

    @abstractmethod
    def outbox(self, service: str, aggregate_id: str) -> list[dict[str, Any]]:
        """The committed outbox events of one aggregate, in the order they were added."""

    def create(self, user: str = "alice", key: Idempotency = NO_KEY) -> orders.CreateOrder:
        cmd = orders.CreateOrder(uuid.uuid4(), user, "Alice", (orders.OrderLine("sku-1", 2),))
        order_handlers.create_order(self.orders_uow(), cmd, META, key)
        return cmd

    def change(
        self,
        product: str,
        operation: stock.Operation,
        amount: int,
        *,
        uow: StockUnitOfWork | None = None,
        key: Idempotency = NO_KEY,
        max_attempts: int = 200,
        snapshot_every: int = 100,
    ) -> Response:
        return stock_handlers.change_stock(
            uow or self.stock_uow(),
            stock.ChangeStock(product, operation, amount),
            META,
            key,
            user_id="warehouse",
            snapshot_every=snapshot_every,
            max_attempts=max_attempts,
        )

    def racing(self, product: str, operation: stock.Operation, races: int) -> StockUnitOfWork:
        uow = self.stock_uow()
        uow.stock = RacingStock(uow.stock, lambda: self.change(product, operation, 1), races)
        return uow

    def stock_of(self, product: str) -> stock.ProductStock:
        with self.stock_uow() as uow:
            return uow.stock.load(product)
