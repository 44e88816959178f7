"""Airflow runs that go wrong, and their remedies, against the embedded stack.

A run with a bad event stops at the quality gate, leaves the serving views as they were and
raises an alert; after the bad event is quarantined, `rebuild_views` publishes again.
`rebuild_views` with a `from_date` republishes the rows that depend on events from that day
on, and only those.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from config.settings import Settings
from pipeline.publish import publish_views
from quality.data_docs import data_docs_index
from services.outbox import make_producer
from tests.support.dag_runs import PIPELINE, run_dag, serving_rows, warehouse
from tests.support.dbt_in_process import InProcessDbt
from tests.support.raw_events import ingest_events, order_created
from tests.support.relay import relay_all
from tests.support.signing import stack_bytes

Auth = Callable[..., dict[str, str]]


def publish_future_order(settings: Settings, user: str) -> tuple[str, str]:
    """An order.created event that meets its contract but claims to happen in 2999."""
    order_id = str(uuid.uuid4())
    event = order_created(order_id, user, datetime(2999, 1, 1, tzinfo=UTC), customer_name="Mallory")
    producer = make_producer(settings)
    try:
        value = stack_bytes(settings, event)
        producer.send("order.created", key=order_id.encode(), value=value).get(30)
    finally:
        producer.close()
    return order_id, event["event_id"]


def test_bad_event_stops_at_the_gate_and_serving_keeps_the_last_good_views(
    airflow_ready: Settings, orders: TestClient, auth: Auth
) -> None:
    settings = airflow_ready
    user = f"frank-{uuid.uuid4().hex[:6]}"
    good = orders.post("/orders", json={"customer_name": "Frank"}, headers=auth(user))
    relay_all(settings, "orders")
    green = run_dag(settings, PIPELINE)
    assert green.exit_code == 0, green
    before = serving_rows(settings)
    assert good.json()["order_id"] in {str(row[0]) for row in before}

    assert run_dag(settings, "data_docs").exit_code == 0  # as the publication starts it
    docs_before = data_docs_index(settings).stat().st_mtime_ns
    bad_order, bad_event = publish_future_order(settings, user)
    try:
        run = run_dag(settings, PIPELINE)
        states, run_id = run.states, run.run_id

        assert run.exit_code != 0
        # the raw tables' part of the gate caught it; the marts' part found nothing wrong
        assert (states["validate_raw"], states["validate_marts"]) == ("failed", "success"), run
        assert states["publish"] == "upstream_failed"
        # the failed gate rendered its Data Docs itself: the failure can be read there
        assert data_docs_index(settings).stat().st_mtime_ns != docs_before
        assert all(s == "success" for t, s in states.items() if t.startswith(("ingest", "dbt_")))
        # dbt built the bad order into the mart; the gate kept it out of serving
        marts = warehouse(
            settings, "select 1 from marts.orders_with_invoices where order_id = %s", bad_order
        )
        assert marts == [(1,)]
        assert serving_rows(settings) == before
        alerts = warehouse(
            settings,
            "select task_id, error from ops.pipeline_alerts where run_id = %s",
            run_id,
        )
        assert [task for task, _ in alerts] == ["validate_raw"]
        assert "DataQualityFailed" in alerts[0][1]
        assert "occurred_at is not in the future" in alerts[0][1]
    finally:
        # Quarantine: the operator's remedy in docs/runbook.md
        warehouse(
            settings,
            "with gone as (delete from raw.order_created where event_id = %s returning 1)"
            " select count(*) from gone",
            bad_event,
        )

    rebuild = run_dag(settings, "rebuild_views")

    assert rebuild.exit_code == 0, rebuild
    assert set(rebuild.states.values()) == {"success"}
    after = serving_rows(settings)
    assert bad_order not in {str(row[0]) for row in after}
    assert set(before) <= set(after)


def test_rebuild_from_a_date_republishes_the_rows_after_it(
    airflow_ready: Settings, dbt: InProcessDbt
) -> None:
    settings = airflow_ready
    now = datetime.now(UTC)
    user = f"gina-{uuid.uuid4().hex[:6]}"
    recent, old = str(uuid.uuid4()), str(uuid.uuid4())
    ingest_events(
        settings,
        [
            order_created(recent, user, now - timedelta(days=1), "Gina"),
            order_created(old, user, now - timedelta(days=30), "Gina"),
        ],
    )
    dbt("run")
    names = "select customer_name from {}.orders_with_invoices where order_id = %s"
    # A fault in both orders' rows, published: one has an event after the date, one not.
    warehouse(
        settings,
        "update marts.orders_with_invoices set customer_name = 'Wrong'"
        " where order_id = any(%s::uuid[]) returning 1",
        [recent, old],
    )
    publish_views(settings)
    assert warehouse(settings, names.format("serving"), recent) == [("Wrong",)]
    try:
        run = run_dag(
            settings, "rebuild_views", from_date=(now - timedelta(days=2)).date().isoformat()
        )

        assert run.exit_code == 0, run
        assert set(run.states.values()) == {"success"}
        assert warehouse(settings, names.format("serving"), recent) == [("Gina",)]
        # Not a full refresh: the order with events only before the date was not rebuilt.
        assert warehouse(settings, names.format("marts"), old) == [("Wrong",)]
        assert warehouse(settings, names.format("serving"), old) == [("Wrong",)]
    finally:
        for schema in ("marts", "serving"):
            warehouse(
                settings,
                f"update {schema}.orders_with_invoices set customer_name = 'Gina'"
                " where order_id = %s returning 1",
                old,
            )
