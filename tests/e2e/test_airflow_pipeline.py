"""The pipeline DAG run by Airflow (`airflow dags test`) against the embedded stack.

A green run publishes the checked marts; a run with nothing new skips everything after the
ingest. The runs that go wrong and their remedies are in test_airflow_recovery.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from fastapi.testclient import TestClient

from config.settings import Settings
from database import connections
from database.names import AIRFLOW_DATABASE
from quality.data_docs import data_docs_index
from tests.support.dag_runs import PIPELINE, run_dag, task_xcom, warehouse
from tests.support.relay import relay_all

Auth = Callable[..., dict[str, str]]


def test_pipeline_publishes_checked_views(
    airflow_ready: Settings, orders: TestClient, invoices: TestClient, auth: Auth
) -> None:
    settings = airflow_ready
    user = f"erin-{uuid.uuid4().hex[:6]}"
    placed = orders.post("/orders", json={"customer_name": "Erin"}, headers=auth(user))
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["order_id"]
    r = invoices.post(
        "/invoices",
        json={"order_id": order_id, "invoice_url": "https://billing.example.com/inv/e.pdf"},
        headers=auth("bill", "billing"),
    )
    assert r.status_code == 201, r.text
    relay_all(settings, "orders", "invoices")

    run = run_dag(settings, PIPELINE)

    assert run.exit_code == 0, run
    assert set(run.states.values()) == {"success"}
    assert {"ingest", "validate_raw", "validate_marts", "publish"} <= set(run.states)
    # rendered after publish (by the data_docs DAG, which the scheduler starts on the
    # publication), from the results the gate stored
    docs = run_dag(settings, "data_docs")
    assert (docs.exit_code, docs.states) == (0, {"data_docs": "success"}), docs
    assert "marts.orders_with_invoices" in data_docs_index(settings).read_text()
    # one task ran dbt: every model and its tests, each listed with its status
    built = task_xcom(settings, run_id := run.run_id, "dbt_build")
    assert built["model"]["model.cqrs_warehouse.orders_with_invoices"] == "success"
    assert built["test"] and set(built["test"].values()) == {"pass"}
    published = warehouse(
        settings,
        "select status, invoice_url from serving.orders_with_invoices where order_id = %s",
        order_id,
    )
    assert published == [("invoiced", "https://billing.example.com/inv/e.pdf")]
    (count,) = warehouse(settings, "select count(*) from serving.orders_with_invoices")[0]
    recorded = warehouse(
        settings,
        "select row_count, newest_event_at is not null, lag_seconds >= 0"
        " from ops.view_publications where run_id = %s and view_name = 'orders_with_invoices'",
        run_id,
    )
    assert recorded == [(count, True, True)]
    with connections.connect(settings, AIRFLOW_DATABASE) as conn:
        events = conn.execute(
            "select a.name, e.extra::text from asset_event e join asset a on a.id = e.asset_id"
            " where e.source_run_id = %s and e.source_task_id = 'publish'",
            (run_id,),
        ).fetchall()
    extras: dict[str, str] = {name: extra for name, extra in events}
    assert extras["serving.orders_with_invoices"] == (f'{{"published": true, "rows": {count}}}')


def test_a_run_with_nothing_new_skips_dbt_gate_and_publish(airflow_ready: Settings) -> None:
    settings = airflow_ready
    first = run_dag(settings, PIPELINE)  # takes whatever earlier tests left
    assert first.exit_code == 0, first
    published = warehouse(settings, "select count(*) from ops.view_publications")

    run = run_dag(settings, PIPELINE)

    assert run.exit_code == 0, run
    assert run.states["ingest"] == "success"
    after = {t: s for t, s in run.states.items() if t != "ingest"}
    assert after and set(after.values()) == {"skipped"}, run
    assert warehouse(settings, "select count(*) from ops.view_publications") == published
