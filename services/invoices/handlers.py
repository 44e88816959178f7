"""Invoices service layer: save the invoice and its outbox row in one unit of work."""

from __future__ import annotations

from typing import Any

from contracts.envelope import EventMeta
from services.events import envelope
from services.idempotency import Idempotency, Response, run_once
from services.invoices import domain
from services.invoices.unit_of_work import InvoicesUnitOfWork
from services.position import POSITION, payload_of


def _view(invoice: domain.Invoice, recorded: dict[str, Any]) -> dict[str, Any]:
    return {
        "invoice_id": str(invoice.invoice_id),
        "order_id": str(invoice.order_id),
        "invoice_url": invoice.invoice_url,
        POSITION: payload_of(recorded),
    }


def issue_invoice(
    uow: InvoicesUnitOfWork,
    cmd: domain.IssueInvoice,
    meta: EventMeta,
    idem: Idempotency,
    url_base: str,
) -> Response:
    def action() -> Response:
        invoice, event = domain.issue_invoice(cmd, url_base)
        recorded = envelope(event, meta)
        uow.invoices.add(invoice, at=recorded["occurred_at"])  # the event's time, as in the views
        uow.outbox.add(recorded)
        return 201, _view(invoice, recorded)

    return run_once(uow, user_id=cmd.issued_by, request=idem, action=action)
