"""The orders unit of work: the order repository, outbox and keys in one transaction."""

from __future__ import annotations

import psycopg

from services.in_memory import InMemoryDatabase, InMemoryUnitOfWork
from services.orders.repository import (
    InMemoryOrderRepository,
    OrderRepository,
    PostgresOrderRepository,
)
from services.unit_of_work import PostgresUnitOfWork, UnitOfWork


class OrdersUnitOfWork(UnitOfWork):
    orders: OrderRepository


class PostgresOrdersUnitOfWork(PostgresUnitOfWork, OrdersUnitOfWork):
    def __init__(self, conn: psycopg.Connection):
        super().__init__(conn)
        self.orders = PostgresOrderRepository(conn)


class InMemoryOrdersUnitOfWork(InMemoryUnitOfWork, OrdersUnitOfWork):
    def __init__(self, database: InMemoryDatabase | None = None):
        super().__init__(database)
        self.orders = InMemoryOrderRepository(self.staged("orders"))
