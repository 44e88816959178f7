"""Invoices HTTP routes."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from services.app import Conn, IdempotentRequest, PositionSeal
from services.auth import Billing
from services.fields import STORABLE, contract_field
from services.invoices import domain, handlers
from services.invoices.unit_of_work import InvoicesUnitOfWork, PostgresInvoicesUnitOfWork
from services.position import PositionToken
from services.responses import WITH_BODY, documented
from services.telemetry import Meta

router = APIRouter(tags=["invoices"])


def _unit_of_work(conn: Conn) -> InvoicesUnitOfWork:
    return PostgresInvoicesUnitOfWork(conn)


UnitOfWork = Annotated[InvoicesUnitOfWork, Depends(_unit_of_work)]


class IssueInvoiceIn(BaseModel):
    order_id: uuid.UUID
    invoice_url: (
        Annotated[str, contract_field("invoice.created", "invoice_url"), STORABLE] | None
    ) = None


class InvoiceOut(BaseModel):
    invoice_id: uuid.UUID
    order_id: uuid.UUID
    invoice_url: str
    position_token: PositionToken


@router.post(
    "/invoices",
    status_code=201,
    response_model=InvoiceOut,
    responses=documented(*WITH_BODY, 403),
)
def issue_invoice(
    body: IssueInvoiceIn,
    request: Request,
    user: Billing,
    uow: UnitOfWork,
    meta: Meta,
    idem: IdempotentRequest,
    seal: PositionSeal,
) -> JSONResponse:
    cmd = domain.IssueInvoice(
        invoice_id=uuid.uuid4(),
        order_id=body.order_id,
        issued_by=user.subject,
        invoice_url=body.invoice_url,
    )
    url_base = request.app.state.settings.invoice_url_base
    status, out = handlers.issue_invoice(uow, cmd, meta, idem, url_base)
    return JSONResponse(seal.answer(out), status_code=status)
