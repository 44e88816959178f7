"""The Great Expectations suites say what the issue promises, table by table (no IO)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from contracts.catalog import TOPICS
from contracts.dbt_sources import ENVELOPE_COLUMNS
from quality.suites import (
    AUDIT_PARTS,
    URL_PATTERN,
    TableSuite,
    mart_suites,
    orders_with_invoices_suite,
    raw_suites,
    warehouse_suites,
)


def checks(suite: TableSuite) -> list[tuple[str, dict[str, Any]]]:
    """Each expectation as (type, its arguments), the way the checkpoint will run it."""
    return [(e.expectation_type, e.configuration.kwargs) for e in suite.expectations]


def by_name(name: str) -> TableSuite:
    return next(s for s in warehouse_suites() if s.qualified_table == name)


def test_one_suite_per_raw_table_then_the_marts() -> None:
    names = [s.qualified_table for s in warehouse_suites()]
    assert names == [
        "raw.order_created", "raw.order_cancelled", "raw.invoice_created", "raw.stock_updated",
        "marts.orders_with_invoices", "marts.products", "marts.product_stock_daily",
    ]  # fmt: skip
    assert len(raw_suites()) == len(TOPICS)
    assert len(set(names)) == len(names)


def test_the_pipeline_checks_new_rows_and_the_audit_every_row() -> None:
    for suite in warehouse_suites(checked_below=1234):
        column = "ingest_txid" if suite.schema == "raw" else "changed_at_watermark"
        # the bound as a number, so the planner sees how few rows are new
        assert suite.query == f"select * from {suite.qualified_table} where {column} >= 1234"
        assert suite.name == f"{suite.qualified_table}.new_rows"  # apart from the audit's
    for part in AUDIT_PARTS.values():
        assert all(suite.window is None and suite.query is None for suite in part())
    # Whether every ingested order has its row reads all of raw.order_created: audit only.
    joins = "unexpected_rows_expectation"
    assert joins in [t for t, _ in checks(orders_with_invoices_suite())]
    assert joins not in [t for t, _ in checks(by_name("marts.orders_with_invoices"))]


@pytest.mark.parametrize("suite", raw_suites(), ids=lambda s: s.name)
def test_raw_suite_checks_the_envelope(suite: TableSuite) -> None:
    found = checks(suite)
    columns = next(kw for t, kw in found if t == "expect_table_columns_to_match_set")
    assert set(columns["column_set"]) == set(ENVELOPE_COLUMNS)
    not_null = {kw["column"] for t, kw in found if t == "expect_column_values_to_not_be_null"}
    assert not_null == set(ENVELOPE_COLUMNS) - {"request_id"}  # the contract allows a null one
    assert ("expect_column_values_to_be_unique", {"column": "event_id"}) in [
        (t, {k: v for k, v in kw.items() if k == "column"}) for t, kw in found
    ]
    event_type = next(kw for t, kw in found if t == "expect_column_values_to_be_in_set")
    assert event_type["value_set"] == [suite.table.replace("_", ".", 1)]
    future = next(kw for t, kw in found if t == "unexpected_rows_expectation")
    assert "occurred_at > now() + interval" in future["unexpected_rows_query"]


def test_marts_suites_check_keys_stock_and_urls() -> None:
    orders = checks(by_name("marts.orders_with_invoices"))
    assert ("expect_column_values_to_be_unique", "order_id") in [
        (t, kw.get("column")) for t, kw in orders
    ]
    url = next(kw for t, kw in orders if t == "expect_column_values_to_match_regex")
    assert (url["column"], url["regex"]) == ("invoice_url", URL_PATTERN)
    for name in ("marts.products", "marts.product_stock_daily"):
        stock = [kw for t, kw in checks(by_name(name)) if t == "expect_column_values_to_be_between"]
        assert [(kw["column"], kw["min_value"]) for kw in stock] == [("stock", 0)]
    daily = checks(by_name("marts.product_stock_daily"))
    assert ("expect_compound_columns_to_be_unique", ["product_id", "day"]) in [
        (t, kw.get("column_list")) for t, kw in daily
    ]
    assert {s.schema for s in mart_suites()} == {"marts"}


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://invoices.example.com/inv/1.pdf", True),
        ("http://billing.example.com/x", True),
        ("ftp://files.example.com/1.pdf", False),
        ("invoices.example.com/1.pdf", False),
        ("https://", False),
        ("https://exa mple.com/1", False),
    ],
)
def test_invoice_url_pattern(url: str, ok: bool) -> None:
    # The gate runs it as a PostgreSQL regex; this pattern means the same in Python's re.
    assert bool(re.match(URL_PATTERN, url)) is ok
