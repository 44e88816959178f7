"""The write handlers' contract against the in-memory backend (no IO)."""

from __future__ import annotations

from typing import Any

import pytest

from services.in_memory import InMemoryDatabase
from services.invoices.unit_of_work import InMemoryInvoicesUnitOfWork, InvoicesUnitOfWork
from services.orders.unit_of_work import InMemoryOrdersUnitOfWork, OrdersUnitOfWork
from services.stock.unit_of_work import InMemoryStockUnitOfWork, StockUnitOfWork
from tests.handlers_contract import HandlersContract


class TestHandlersInMemory(HandlersContract):
    databases: dict[str, InMemoryDatabase]

    @pytest.fixture(autouse=True)
    def _databases(self) -> None:
        self.databases = {name: InMemoryDatabase() for name in ("orders", "invoices", "stock")}

    def orders_uow(self) -> OrdersUnitOfWork:
        return InMemoryOrdersUnitOfWork(self.databases["orders"])

    def invoices_uow(self) -> InvoicesUnitOfWork:
        return InMemoryInvoicesUnitOfWork(self.databases["invoices"])

    def stock_uow(self) -> StockUnitOfWork:
        return InMemoryStockUnitOfWork(self.databases["stock"])

    def outbox(self, service: str, aggregate_id: str) -> list[dict[str, Any]]:
        events = self.databases[service].outbox
        return [e for e in events if e["aggregate_id"] == aggregate_id]
