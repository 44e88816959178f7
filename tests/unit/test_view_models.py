"""The read API's response models come from the marts' dbt contracts."""

from __future__ import annotations

import typing
from datetime import datetime
from uuid import UUID

import pytest

from contracts import view_models
from services.read_api.view_models import OrderWithInvoice


def test_the_answer_has_the_columns_the_mart_lists_typed_as_declared() -> None:
    [mart] = [m for m in view_models.served_marts() if m["name"] == "orders_with_invoices"]
    listed = mart["config"]["meta"]["read_api"]["columns"]
    assert list(OrderWithInvoice.model_fields) == listed
    assert "channel" in listed
    hints = typing.get_type_hints(OrderWithInvoice)
    assert hints["order_id"] is UUID and hints["created_at"] is datetime
    assert hints["channel"] is str  # not null in the contract
    assert hints["invoice_url"] == str | None  # nullable in the contract


def test_a_listed_column_the_contract_does_not_declare_is_refused() -> None:
    mart = {
        "name": "orders_with_invoices",
        "config": {"meta": {"read_api": {"model": "X", "columns": ["order_id", "shipped_at"]}}},
        "columns": [{"name": "order_id", "data_type": "uuid"}],
    }
    with pytest.raises(ValueError, match="undeclared columns \\['shipped_at'\\]"):
        view_models.render_models([mart])
