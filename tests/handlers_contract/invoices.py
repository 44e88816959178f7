"""Invoices handler: issue an invoice."""

from __future__ import annotations

import uuid

from services.invoices import domain as invoices
from services.invoices import handlers as invoice_handlers
from services.position import POSITION, payload_of
from tests.handlers_contract.backend import META, NO_KEY, Backend


class InvoiceHandlersContract(Backend):
    def test_issue_invoice_records_invoice_created(self) -> None:
        cmd = invoices.IssueInvoice(uuid.uuid4(), uuid.uuid4(), "alice")
        status, body = invoice_handlers.issue_invoice(
            self.invoices_uow(), cmd, META, NO_KEY, "https://billing.example.com/"
        )
        url = f"https://billing.example.com/{cmd.invoice_id}.pdf"
        [event] = self.outbox("invoices", str(cmd.invoice_id))
        payload = {
            "invoice_id": str(cmd.invoice_id),
            "order_id": str(cmd.order_id),
            "invoice_url": url,
        }
        assert (status, body) == (201, {**payload, POSITION: payload_of(event)})
        assert (event["event_type"], event["aggregate_version"]) == ("invoice.created", 1)
        assert event["payload"] == payload
