"""Which marts an upgrade reshaped: declared (manifest) against built (warehouse) columns."""

from __future__ import annotations

from typing import Any

from pipeline.mart_contracts import declared_marts, declared_partitioned, reshaped


def node(name: str, columns: dict[str, str], **config: Any) -> dict[str, Any]:
    return {
        "resource_type": "model",
        "schema": "marts",
        "alias": name,
        "config": {"materialized": "incremental", "contract": {"enforced": True}, **config},
        "columns": {column: {"data_type": t} for column, t in columns.items()},
    }


def test_only_incremental_marts_with_an_enforced_contract_are_declared() -> None:
    manifest = {
        "nodes": {
            "model.p.products": node("products", {"product_id": "text", "stock": "bigint"}),
            "model.p.stg": {**node("stg", {"a": "text"}), "schema": "staging"},
            "model.p.table": node("t", {"a": "text"}, materialized="table"),
            "model.p.loose": node("loose", {"a": "text"}, contract={"enforced": False}),
            "test.p.x": {**node("x", {}), "resource_type": "test"},
        }
    }
    assert declared_marts(manifest) == {"products": (("product_id", "text"), ("stock", "bigint"))}


def test_a_mart_built_with_other_columns_is_reshaped() -> None:
    declared = {
        "orders_with_invoices": (("order_id", "uuid"), ("invoice_event_id", "uuid")),
        "products": (("product_id", "text"), ("stock", "bigint")),
        "product_stock_daily": (("product_id", "text"),),
    }
    built = {
        "orders_with_invoices": (("order_id", "uuid"),),  # a column added since
        "products": (("product_id", "text"), ("stock", "integer")),  # a type changed
        "product_stock_daily": (("product_id", "text"),),  # unchanged
    }
    assert reshaped(declared, built) == ["orders_with_invoices", "products"]


def test_a_mart_not_built_yet_is_not_reshaped() -> None:
    assert reshaped({"products": (("product_id", "text"),)}, {}) == []


def test_marts_asking_for_monthly_partitions_are_found_by_their_meta() -> None:
    daily = node("product_stock_daily", {"day": "date"}, meta={"partition_by_month": "day"})
    manifest = {
        "nodes": {
            "model.p.daily": daily,
            "model.p.products": node("products", {"product_id": "text"}, meta={}),
            "model.p.stg": {**daily, "schema": "staging", "alias": "stg"},
        }
    }
    assert declared_partitioned(manifest) == {"product_stock_daily"}
