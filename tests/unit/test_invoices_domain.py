"""Invoice aggregate decisions."""

from __future__ import annotations

import uuid

from services.invoices import domain


def test_generated_url_is_under_the_base() -> None:
    cmd = domain.IssueInvoice(uuid.uuid4(), uuid.uuid4(), "alice")
    invoice, event = domain.issue_invoice(cmd, "https://billing.example.com/docs/")
    assert invoice.invoice_url == f"https://billing.example.com/docs/{cmd.invoice_id}.pdf"
    assert event.payload["invoice_url"] == invoice.invoice_url
    assert event.aggregate_id == str(cmd.invoice_id)


def test_given_url_is_kept() -> None:
    cmd = domain.IssueInvoice(uuid.uuid4(), uuid.uuid4(), "alice", "https://x.example/1.pdf")
    invoice, event = domain.issue_invoice(cmd, "https://unused.example/")
    assert invoice.invoice_url == "https://x.example/1.pdf"
    assert event.payload["order_id"] == str(cmd.order_id)
