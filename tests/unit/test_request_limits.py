"""The API accepts exactly what the event contracts accept: same limits, no NUL, valid Unicode."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from config.settings import Settings
from services.fields import contract_property
from services.invoices.api import IssueInvoiceIn
from services.orders.api import CancelOrderIn, CreateOrderIn
from services.orders.app import create_app as orders_app
from services.stock.api import StockOperationIn

ORDER = "00000000-0000-4000-8000-000000000001"
URL = "https://billing.example.com/"


def lines(n: int, product: str = "p", quantity: int = 1) -> list[dict[str, Any]]:
    return [{"product_id": product, "quantity": quantity}] * n


@pytest.mark.parametrize(
    ("model", "body"),
    [
        (CreateOrderIn, {"customer_name": "a" * 201}),
        (CreateOrderIn, {"customer_name": "a\x00b"}),
        (CreateOrderIn, {"customer_name": "\ud800"}),
        (CreateOrderIn, {"customer_name": "A", "items": lines(1, product="p\x00")}),
        (CreateOrderIn, {"customer_name": "A", "items": lines(1, quantity=10**6 + 1)}),
        (CreateOrderIn, {"customer_name": "A", "items": lines(501)}),
        (CancelOrderIn, {"reason": "no\x00"}),
        (CancelOrderIn, {"reason": "r" * 501}),
        (IssueInvoiceIn, {"order_id": ORDER, "invoice_url": URL + "a" * 2500}),
        (IssueInvoiceIn, {"order_id": ORDER, "invoice_url": URL + "\x00"}),
        (IssueInvoiceIn, {"order_id": ORDER, "invoice_url": "ftp://files.example.com/x"}),
        (StockOperationIn, {"operation": "increase", "stock_amount": 10**9 + 1}),
        (StockOperationIn, {"operation": "increase", "amount": 10**9 + 1}),
    ],
)  # fmt: skip
def test_what_the_contract_refuses_the_api_refuses(
    model: type[BaseModel], body: dict[str, Any]
) -> None:
    with pytest.raises(ValidationError):
        model.model_validate(body)


@pytest.mark.parametrize(
    ("model", "body"),
    [
        (CreateOrderIn, {"customer_name": "a" * 200, "items": lines(500, "p" * 200, 10**6)}),
        (CancelOrderIn, {"reason": "r" * 500}),
        (CancelOrderIn, {}),
        (IssueInvoiceIn, {"order_id": ORDER, "invoice_url": URL + "a" * (2000 - len(URL))}),
        (StockOperationIn, {"operation": "decrease", "stock_amount": 10**9}),
        (StockOperationIn, {"operation": "decrease", "amount": 10**9}),
    ],
)  # fmt: skip
def test_what_the_contract_accepts_at_its_limits_the_api_accepts(
    model: type[BaseModel], body: dict[str, Any]
) -> None:
    model.model_validate(body)


def test_the_openapi_publishes_the_contract_limits() -> None:
    spec = orders_app(Settings(jwt_secret="e" * 40)).openapi()
    name = spec["components"]["schemas"]["CreateOrderIn"]["properties"]["customer_name"]
    contract = contract_property("order.created", "customer_name")
    assert (name["maxLength"], name["minLength"], name["pattern"]) == (
        contract["maxLength"], contract["minLength"], contract["pattern"],
    )  # fmt: skip


def test_stock_takes_the_seeds_name_and_still_reads_the_older_one() -> None:
    new = StockOperationIn.model_validate({"operation": "increase", "stock_amount": 4})
    old = StockOperationIn.model_validate({"operation": "increase", "amount": 4})
    assert new == old and new.stock_amount == 4
