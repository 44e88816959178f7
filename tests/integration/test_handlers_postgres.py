"""The write handlers' contract against PostgreSQL (the session's embedded server)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from config.settings import Settings
from database import connections
from services.invoices.unit_of_work import InvoicesUnitOfWork, PostgresInvoicesUnitOfWork
from services.orders.unit_of_work import OrdersUnitOfWork, PostgresOrdersUnitOfWork
from services.stock.unit_of_work import PostgresStockUnitOfWork, StockUnitOfWork
from tests.handlers_contract import HandlersContract


class TestHandlersPostgres(HandlersContract):
    settings: Settings
    connections: list[psycopg.Connection]

    @pytest.fixture(autouse=True)
    def _databases(
        self, settings: Settings, orders: TestClient, invoices: TestClient, stock: TestClient
    ) -> Iterator[None]:
        # The service clients are asked for only so that their schemas exist.
        self.settings, self.connections = settings, []
        yield
        for conn in self.connections:
            conn.close()

    def connect(self, service: str) -> psycopg.Connection:
        conn = connections.connect(self.settings, service, autocommit=True)
        self.connections.append(conn)
        return conn

    def orders_uow(self) -> OrdersUnitOfWork:
        return PostgresOrdersUnitOfWork(self.connect("orders"))

    def invoices_uow(self) -> InvoicesUnitOfWork:
        return PostgresInvoicesUnitOfWork(self.connect("invoices"))

    def stock_uow(self) -> StockUnitOfWork:
        return PostgresStockUnitOfWork(self.connect("stock"))

    def outbox(self, service: str, aggregate_id: str) -> list[dict[str, Any]]:
        with connections.connect(self.settings, service) as conn:
            rows = conn.execute(
                "select event from outbox where message_key = %s order by id", (aggregate_id,)
            ).fetchall()
        return [event for (event,) in rows]
