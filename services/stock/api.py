"""Stock HTTP routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse
from pydantic import AliasChoices, BaseModel, Field

from services.app import Conn, IdempotentRequest, PositionSeal
from services.auth import StockKeeper
from services.fields import contract_field
from services.position import PositionToken
from services.responses import WITH_BODY, documented
from services.stock import domain, handlers
from services.stock.unit_of_work import PostgresStockUnitOfWork, StockUnitOfWork
from services.telemetry import Meta

router = APIRouter(tags=["stock"])


def _unit_of_work(conn: Conn) -> StockUnitOfWork:
    return PostgresStockUnitOfWork(conn)


UnitOfWork = Annotated[StockUnitOfWork, Depends(_unit_of_work)]

ProductId = Annotated[str, Path(pattern=r"^[A-Za-z0-9._:-]{1,200}$")]


class StockOperationIn(BaseModel):
    operation: domain.Operation
    # The seed's name; `amount`, the name before 2026-12-06, is still read (docs/api.md).
    stock_amount: Annotated[
        int,
        contract_field("stock.updated", "stock_amount"),
        Field(validation_alias=AliasChoices("stock_amount", "amount")),
    ]


class StockOperationOut(BaseModel):
    product_id: str
    operation: domain.Operation
    stock_amount: int
    amount: int = Field(deprecated=True, description="Same as stock_amount (older name).")
    stock: int
    version: int
    position_token: PositionToken


@router.post(
    "/products/{product_id}/stock-operations",
    status_code=201,
    response_model=StockOperationOut,
    responses=documented(
        *WITH_BODY,
        403,
        409,
        503,
        s409="A decrease would take stock below zero",
        s503="Too many concurrent changes of this product; retry",
    ),
)
def change_stock(
    product_id: ProductId,
    body: StockOperationIn,
    request: Request,
    user: StockKeeper,
    uow: UnitOfWork,
    meta: Meta,
    idem: IdempotentRequest,
    seal: PositionSeal,
) -> JSONResponse:
    cmd = domain.ChangeStock(product_id, body.operation, body.stock_amount)
    every = request.app.state.settings.snapshot_every
    status, out = handlers.change_stock(
        uow, cmd, meta, idem, user_id=user.subject, snapshot_every=every
    )
    return JSONResponse(seal.answer(out), status_code=status)
