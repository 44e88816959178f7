"""Where invoices are kept: the repository contract, on PostgreSQL and in memory."""

from __future__ import annotations

from abc import ABC, abstractmethod
from uuid import UUID

import psycopg

from services.in_memory import StagedTable
from services.invoices.domain import Invoice


class InvoiceRepository(ABC):
    @abstractmethod
    def add(self, invoice: Invoice, at: str | None = None) -> None:
        """Add an invoice issued at ``at`` (its event's time; now if None)."""

    @abstractmethod
    def get(self, invoice_id: UUID) -> Invoice | None: ...


class PostgresInvoiceRepository(InvoiceRepository):
    def __init__(self, conn: psycopg.Connection):
        self.conn = conn

    def add(self, invoice: Invoice, at: str | None = None) -> None:
        self.conn.execute(
            "insert into invoices (invoice_id, order_id, invoice_url, issued_by, created_at)"
            " values (%s, %s, %s, %s, coalesce(%s::timestamptz, now()))",
            (invoice.invoice_id, invoice.order_id, invoice.invoice_url, invoice.issued_by, at),
        )

    def get(self, invoice_id: UUID) -> Invoice | None:
        row = self.conn.execute(
            "select invoice_id, order_id, invoice_url, issued_by from invoices"
            " where invoice_id = %s",
            (invoice_id,),
        ).fetchone()
        return None if row is None else Invoice(row[0], row[1], row[2], row[3])


class InMemoryInvoiceRepository(InvoiceRepository):
    def __init__(self, rows: StagedTable[UUID, Invoice]):
        self.rows = rows

    def add(self, invoice: Invoice, at: str | None = None) -> None:
        if self.rows.get(invoice.invoice_id) is not None:
            raise KeyError(f"invoice {invoice.invoice_id} exists already")
        self.rows.put(invoice.invoice_id, invoice)

    def get(self, invoice_id: UUID) -> Invoice | None:
        return self.rows.get(invoice_id)
