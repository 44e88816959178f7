"""The stock unit of work: the stock event store, outbox and keys in one transaction."""

from __future__ import annotations

import psycopg

from services.in_memory import InMemoryDatabase, InMemoryUnitOfWork
from services.stock.repository import (
    InMemoryStockRepository,
    PostgresStockRepository,
    StockRepository,
)
from services.unit_of_work import PostgresUnitOfWork, UnitOfWork


class StockUnitOfWork(UnitOfWork):
    stock: StockRepository


class PostgresStockUnitOfWork(PostgresUnitOfWork, StockUnitOfWork):
    def __init__(self, conn: psycopg.Connection):
        super().__init__(conn)
        self.stock = PostgresStockRepository(conn)


class InMemoryStockUnitOfWork(InMemoryUnitOfWork, StockUnitOfWork):
    def __init__(self, database: InMemoryDatabase | None = None):
        super().__init__(database)
        self.stock = InMemoryStockRepository(
            self.staged("product_stock_operations"), self.staged("product_stock_snapshots")
        )
