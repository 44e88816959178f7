"""Invoice aggregate: the command, the event it records and the decision, no IO."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from services.events import DomainEvent


@dataclass(frozen=True)
class IssueInvoice:
    invoice_id: UUID
    order_id: UUID
    issued_by: str
    invoice_url: str | None = None


@dataclass(frozen=True)
class InvoiceCreated(DomainEvent, event_type="invoice.created", schema_version=1):
    invoice_id: UUID
    order_id: UUID
    invoice_url: str

    @property
    def aggregate_id(self) -> str:
        return str(self.invoice_id)


@dataclass(frozen=True)
class Invoice:
    invoice_id: UUID
    order_id: UUID
    invoice_url: str
    issued_by: str


def issue_invoice(cmd: IssueInvoice, url_base: str) -> tuple[Invoice, InvoiceCreated]:
    """Issue an invoice; without a URL it gets one under ``url_base``.

    The invoices service does not see the orders database, so it cannot check the order
    exists: the warehouse joins them whenever both have arrived.
    """
    url = cmd.invoice_url or f"{url_base.rstrip('/')}/{cmd.invoice_id}.pdf"
    invoice = Invoice(cmd.invoice_id, cmd.order_id, url, cmd.issued_by)
    event = InvoiceCreated(
        aggregate_version=1,
        invoice_id=invoice.invoice_id,
        order_id=invoice.order_id,
        invoice_url=invoice.invoice_url,
    )
    return invoice, event
