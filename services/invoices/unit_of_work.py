"""The invoices unit of work: the invoice repository, outbox and keys in one transaction."""

from __future__ import annotations

import psycopg

from services.in_memory import InMemoryDatabase, InMemoryUnitOfWork
from services.invoices.repository import (
    InMemoryInvoiceRepository,
    InvoiceRepository,
    PostgresInvoiceRepository,
)
from services.unit_of_work import PostgresUnitOfWork, UnitOfWork


class InvoicesUnitOfWork(UnitOfWork):
    invoices: InvoiceRepository


class PostgresInvoicesUnitOfWork(PostgresUnitOfWork, InvoicesUnitOfWork):
    def __init__(self, conn: psycopg.Connection):
        super().__init__(conn)
        self.invoices = PostgresInvoiceRepository(conn)


class InMemoryInvoicesUnitOfWork(InMemoryUnitOfWork, InvoicesUnitOfWork):
    def __init__(self, database: InMemoryDatabase | None = None):
        super().__init__(database)
        self.invoices = InMemoryInvoiceRepository(self.staged("invoices"))
