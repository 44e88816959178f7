"""Invoices service layer: save the invoice and its outbox row in one transaction."""

from __future__ import annotations

from typing import Any

import psycopg

from contracts.envelope import EventMeta, envelope
from services import outbox
from services.idempotency import Idempotency, Response, run_once
from services.invoices import domain


def _view(invoice: domain.Invoice) -> dict[str, Any]:
    return {
        "invoice_id": str(invoice.invoice_id),
        "order_id": str(invoice.order_id),
        "invoice_url": invoice.invoice_url,
    }


def issue_invoice(
    conn: psycopg.Connection,
    cmd: domain.IssueInvoice,
    meta: EventMeta,
    idem: Idempotency,
    url_base: str,
) -> Response:
    def action() -> Response:
        invoice, event = domain.issue_invoice(cmd, url_base)
        conn.execute(
            "insert into invoices (invoice_id, order_id, invoice_url, issued_by, created_at)"
            " values (%s, %s, %s, %s, now())",
            (invoice.invoice_id, invoice.order_id, invoice.invoice_url, invoice.issued_by),
        )
        outbox.add(conn, envelope(event, meta))
        return 201, _view(invoice)

    return run_once(conn, user_id=cmd.issued_by, request=idem, action=action)
