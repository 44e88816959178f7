"""The pipeline DAG's dbt build, through ``dbtRunner`` in the calling process
(pipeline/dbt_runner.py): each node's outcome, failures named, a deadline of its own."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from config.settings import Settings
from database import connections
from database.names import WAREHOUSE_DATABASE
from pipeline.dbt import DbtFailed, run_dbt
from pipeline.dbt_runner import DbtTimedOut, build_in_process
from tests.support.raw_events import ingest_events, stock_updated

T0 = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)


def test_a_build_reports_every_model_and_test(settings: Settings) -> None:
    report = build_in_process(settings, timeout_s=600).as_dict()

    assert report["model"]["model.cqrs_warehouse.products"] == "success"
    # The session's warehouse holds what earlier tests planted (quarantined events, say):
    # warn-severity tests may warn there, and a warning does not fail a build.
    assert report["test"] and set(report["test"].values()) <= {"pass", "warn"}
    assert "pass" in report["test"].values()
    assert not any("unit_test" in kind for kind in report)  # left to `make test`


def test_a_build_past_its_deadline_fails_saying_so(settings: Settings) -> None:
    with pytest.raises(DbtTimedOut, match="ran past its"):
        build_in_process(settings, timeout_s=0.01)
    # The abandoned build goes on in its daemon thread: let it end before the next test.
    for thread in threading.enumerate():
        if thread.name == "dbt-build":
            thread.join(600)


def test_a_failed_test_fails_the_build_naming_it(settings: Settings) -> None:
    product = f"sku-{uuid.uuid4().hex[:8]}"
    oversell = stock_updated(product, 2, -8, T0 + timedelta(hours=1))
    ingest_events(settings, [stock_updated(product, 1, 5, T0), oversell])
    try:
        with pytest.raises(DbtFailed) as failed:
            build_in_process(settings, timeout_s=600)
        assert "test test.cqrs_warehouse.not_negative_products_stock" in str(failed.value)
        assert "model model.cqrs_warehouse.products" not in str(failed.value)  # it was built
    finally:
        with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
            conn.execute(
                "delete from raw.stock_updated where event_id = %s", (oversell["event_id"],)
            )
            conn.commit()
        run_dbt(settings, "build", "--full-refresh", quiet=True)
