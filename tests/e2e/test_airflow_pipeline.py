"""The pipeline DAG run by Airflow (`airflow dags test`) against the embedded stack.

A green run publishes the checked marts; a run with a bad event stops at the quality gate,
leaves the serving views as they were and raises an alert; after the bad event is
quarantined, `rebuild_views` publishes again. `rebuild_views` with a `from_date` republishes
the rows that depend on events from that day on, and only those.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from fastapi.testclient import TestClient

from config.settings import Settings
from contracts.envelope import EventMeta, make_event
from database import connections
from database.names import AIRFLOW_DATABASE, WAREHOUSE_DATABASE
from pipeline.publish import publish_views
from services.outbox import Relay, make_producer
from stack.airflow import run_airflow
from tests.support.dbt_in_process import InProcessDbt
from tests.support.raw_events import ingest_events, order_created

Auth = Callable[..., dict[str, str]]
PIPELINE = "cqrs_warehouse_pipeline"


def relay_all(settings: Settings, *services: str) -> None:
    for name in services:
        pool = connections.open_pool(settings, name, max_size=1)
        try:
            Relay(settings, pool).drain()
        finally:
            pool.close()


@dataclass(repr=False)
class DagRun:
    exit_code: int
    run_id: str
    states: dict[str, str | None]
    output: str
    log: Path

    def __repr__(self) -> str:  # what pytest shows when an assertion on the run fails
        return f"{self.states}\nlog: {self.log}\n{self.output[-3000:]}"


def run_dag(settings: Settings, dag_id: str, **params: str) -> DagRun:
    """Run the DAG once, as Airflow runs it; return its exit code and every task's state."""
    conf = ("--conf", orjson.dumps(params).decode()) if params else ()
    done = run_airflow(settings, "dags", "test", dag_id, *conf, check=False)
    output = done.stdout + done.stderr
    log = settings.state_dir / "logs" / f"dags-test-{dag_id}-{uuid.uuid4().hex[:8]}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(output)  # the whole run, for when an assertion below is not enough
    with connections.connect(settings, AIRFLOW_DATABASE) as conn:
        row = conn.execute(
            "select run_id from dag_run where dag_id = %s order by id desc limit 1", (dag_id,)
        ).fetchone()
        assert row is not None, output[-4000:]
        states: dict[str, str | None] = dict(
            conn.execute(
                "select task_id, state from task_instance where dag_id = %s and run_id = %s",
                (dag_id, row[0]),
            ).fetchall()
        )
    return DagRun(done.returncode, row[0], states, output, log)


def warehouse(settings: Settings, query: str, *params: Any) -> list[tuple[Any, ...]]:
    with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
        return conn.execute(query, params).fetchall()


def serving_rows(settings: Settings) -> list[tuple[Any, ...]]:
    return warehouse(
        settings,
        "select order_id, user_id, status, invoice_url from serving.orders_with_invoices"
        " order by order_id",
    )


def publish_future_order(settings: Settings, user: str) -> tuple[str, str]:
    """An order.created event that meets its contract but claims to happen in 2999."""
    order_id = str(uuid.uuid4())
    event = make_event(
        "order.created",
        aggregate_id=order_id,
        aggregate_version=1,
        payload={
            "order_id": order_id,
            "user_id": user,
            "customer_name": "Mallory",
            "items": [],
            "channel": "api",
        },
        meta=EventMeta(producer="orders"),
        occurred_at=datetime(2999, 1, 1, tzinfo=UTC),
    )
    producer = make_producer(settings)
    try:
        producer.send("order.created", key=order_id.encode(), value=orjson.dumps(event)).get(30)
    finally:
        producer.close()
    return order_id, event["event_id"]


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
    assert {"ingest", "validate", "publish", "record_freshness"} <= set(run.states)
    # one task ran dbt: the per-model tasks only watched it
    assert "dbt_build.dbt_producer_watcher" in run.states
    assert "dbt_build.orders_with_invoices.run" in run.states
    run_id = run.run_id
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
    assert (run.states["ingest"], run.states["anything_new"]) == ("success", "success")
    after = {t: s for t, s in run.states.items() if t not in ("ingest", "anything_new")}
    assert after and set(after.values()) == {"skipped"}, run
    assert warehouse(settings, "select count(*) from ops.view_publications") == published


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

    bad_order, bad_event = publish_future_order(settings, user)
    try:
        run = run_dag(settings, PIPELINE)
        states, run_id = run.states, run.run_id

        assert run.exit_code != 0
        assert states["validate"] == "failed", run
        assert states["publish"] == states["record_freshness"] == "upstream_failed"
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
        assert [task for task, _ in alerts] == ["validate"]
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
