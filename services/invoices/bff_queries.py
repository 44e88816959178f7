"""BFF-only reads of the invoices service: the invoices of a set of orders.

Not part of the command service's public API (hidden from its OpenAPI, under
``/internal/bff``). By order ids, not by user: this service never learns who owns an
order. A caller who may read any order's invoices (analyst, support, billing) asks with ids
alone; a customer must bring the orders service's proof that the orders are theirs
(services/order_owners.py), which the BFF passes on (docs/cqrs-vs-bff.md, the coupling a
BFF brings).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

import psycopg
from fastapi import APIRouter, HTTPException, Query, Request, status
from psycopg.rows import class_row
from pydantic import BaseModel

from services.app import Conn
from services.auth import ANALYST, BILLING, CUSTOMER, SUPPORT, requires
from services.order_owners import PROOF_CHARS, OrderOwners
from services.tokens import Principal

router = APIRouter(prefix="/internal/bff", tags=["bff"], include_in_schema=False)

MAX_ORDER_IDS = 200  # keeps the query string well below the servers' 16 KiB header limits
READ_ANY_ORDER = (ANALYST, SUPPORT, BILLING)


class OrderInvoice(BaseModel):
    invoice_id: UUID
    order_id: UUID
    invoice_url: str
    created_at: datetime


def invoices_of_orders(conn: psycopg.Connection, order_ids: list[UUID]) -> list[OrderInvoice]:
    with conn.cursor(row_factory=class_row(OrderInvoice)) as cur:
        cur.execute(
            "select invoice_id, order_id, invoice_url, created_at from invoices"
            " where order_id = any(%s) order by order_id, created_at, invoice_id",
            (order_ids,),
        )
        return cur.fetchall()


@router.get("/invoices", response_model=list[OrderInvoice])
def invoices(
    request: Request,
    caller: Annotated[Principal, requires(CUSTOMER, *READ_ANY_ORDER)],
    conn: Conn,
    order_ids: Annotated[
        list[UUID], Query(alias="orderId", min_length=1, max_length=MAX_ORDER_IDS)
    ],
    proof: Annotated[str | None, Query(max_length=PROOF_CHARS)] = None,
) -> list[OrderInvoice]:
    """Every invoice of the given orders (an order may have none, or several)."""
    if not caller.has_any(*READ_ANY_ORDER):
        owners: OrderOwners = request.app.state.order_owners
        if proof is None or not owners.proves(proof, caller.subject, order_ids):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                "a customer reads the invoices of their own orders only, with the orders"
                " service's proof that they are (ask through the BFF)",
            )
    return invoices_of_orders(conn, order_ids)
