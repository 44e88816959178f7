"""The Great Expectations gate on the real warehouse: what passes, what fails and how loudly."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from config.settings import Settings
from database import connections
from database.names import WAREHOUSE_DATABASE
from quality.data_docs import build_data_docs, data_docs_index
from quality.gate import DataQualityFailed, run_gate, run_gate_parts
from quality.suites import (
    TableSuite,
    orders_with_invoices_suite,
    products_suite,
    raw_suites,
    warehouse_suites,
)


@pytest.fixture
def scratch(settings: Settings) -> Iterator[psycopg.Connection]:
    """A throwaway schema for tables shaped like the marts, with bad rows in them."""
    with connections.connect(settings, WAREHOUSE_DATABASE, autocommit=True) as conn:
        conn.execute("drop schema if exists gx_scratch cascade")
        conn.execute("create schema gx_scratch")
        # The gate runs as the publisher's role: it reads here as it reads marts.
        conn.execute("grant usage on schema gx_scratch to cqrsw_publisher")
        conn.execute(
            "alter default privileges in schema gx_scratch"
            " grant select on tables to cqrsw_publisher"
        )
        try:
            yield conn
        finally:
            conn.execute("drop schema gx_scratch cascade")


def in_scratch(suite: TableSuite, *, drop_types: tuple[str, ...] = ()) -> TableSuite:
    kept = tuple(e for e in suite.expectations if e.expectation_type not in drop_types)
    return TableSuite("gx_scratch", suite.table, kept)


def test_raw_tables_pass_and_data_docs_are_built_afterwards(settings: Settings) -> None:
    report = run_gate(settings, raw_suites(), checkpoint_name="test_raw")

    assert report.success
    assert set(report.suites) == {s.name for s in raw_suites()}
    assert report.skipped == []
    assert report.data_docs == data_docs_index(settings)
    rendered = {p: p.stat().st_mtime_ns for p in _result_pages(settings)}

    # a passing gate renders nothing: its results wait in the store for build_data_docs
    assert build_data_docs(settings) == data_docs_index(settings)
    assert "raw.order_created" in data_docs_index(settings).read_text()
    fresh = {p for p in _result_pages(settings) if rendered.get(p) != p.stat().st_mtime_ns}
    # new pages for the newest result of each suite (validations/<schema>/<table>/...):
    # these raw suites' among them (earlier tests' mart results, if any, render too)
    rendered_suites = {".".join(p.relative_to(_site(settings)).parts[1:3]) for p in fresh}
    assert {s.name for s in raw_suites()} <= rendered_suites


def test_the_gate_in_parts_reports_every_suite_and_each_part_its_own_outcome(
    settings: Settings,
) -> None:
    metrics = settings.state_dir / "metrics"
    (metrics / "gate.prom").parent.mkdir(parents=True, exist_ok=True)
    (metrics / "gate.prom").write_text("cqrsw_gate_last_run_success 0\n")  # an older layout's

    report = run_gate_parts(settings)  # what `cqrsw pipeline run` checks: raw, then marts

    assert report.success
    assert set(report.suites) | set(report.skipped) == {s.name for s in warehouse_suites()}
    for part in ("raw", "marts"):
        text = (metrics / f"gate-{part}_gate.prom").read_text()
        assert f'cqrsw_gate_last_run_success{{gate="{part}_gate"}} 1.0' in text
    assert not (metrics / "gate.prom").exists()  # it would repeat its failure forever
    with pytest.raises(ValueError, match="no gate part"):
        run_gate_parts(settings, ["stock"])


def _site(settings: Settings) -> Path:
    return data_docs_index(settings).parent


def _result_pages(settings: Settings) -> list[Path]:
    return list((_site(settings) / "validations").rglob("*.html"))


def test_a_table_that_does_not_exist_yet_is_skipped(settings: Settings) -> None:
    report = run_gate(settings, [TableSuite("marts", "not_built_yet", ())], "test_skip")

    assert report.success
    assert report.skipped == ["marts.not_built_yet"]
    assert "marts.not_built_yet: skipped, the table does not exist yet" in report.summary()


def test_an_event_from_the_future_fails_the_gate(settings: Settings) -> None:
    event_id = uuid.uuid4()
    with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
        conn.execute(
            "insert into raw.order_created (event_id, event_type, schema_version, aggregate_id,"
            " aggregate_version, occurred_at, producer, trace, payload, kafka_topic,"
            " kafka_partition, kafka_offset, ingest_batch_id) values (%s, 'order.created', 1,"
            " 'x', 1, now() + interval '1 day', 'test', '{}', '{}', 'order.created', 0, -1, 0)",
            (event_id,),
        )
    try:
        with pytest.raises(DataQualityFailed) as failed:
            run_gate(settings, raw_suites(), checkpoint_name="test_future")
    finally:
        with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
            conn.execute("delete from raw.order_created where event_id = %s", (event_id,))

    message = str(failed.value)
    assert "raw.order_created: FAILED" in message
    assert "occurred_at is not in the future (more than 5 minutes ahead): 1 unexpected" in message
    assert "raw.order_cancelled: ok" in message
    assert "Data Docs: " in message


def test_duplicate_orders_and_bad_invoice_urls_fail(
    settings: Settings, scratch: psycopg.Connection
) -> None:
    scratch.execute(
        "create table gx_scratch.orders_with_invoices (order_id uuid, invoice_url text)"
    )
    twice = uuid.uuid4()
    scratch.execute(
        "insert into gx_scratch.orders_with_invoices values (%s, 'https://inv.example/1'),"
        " (%s, 'https://inv.example/2'), (%s, 'not a url'), (%s, null)",
        (twice, twice, uuid.uuid4(), uuid.uuid4()),
    )
    # the completeness check reads raw.order_created, which these rows do not come from
    suite = in_scratch(orders_with_invoices_suite(), drop_types=("unexpected_rows_expectation",))

    with pytest.raises(DataQualityFailed) as failed:
        run_gate(settings, [suite], checkpoint_name="test_orders")

    message = str(failed.value)
    assert "expect_column_values_to_be_unique(order_id): 2 unexpected" in message
    assert "expect_column_values_to_match_regex(invoice_url): 1 unexpected" in message
    assert "'not a url'" in message


def test_negative_stock_fails(settings: Settings, scratch: psycopg.Connection) -> None:
    scratch.execute("create table gx_scratch.products (product_id text, stock int)")
    scratch.execute("insert into gx_scratch.products values ('sku-1', 3), ('sku-2', -1)")

    with pytest.raises(DataQualityFailed, match=r"expect_column_values_to_be_between"):
        run_gate(settings, [in_scratch(products_suite())], checkpoint_name="test_stock")
