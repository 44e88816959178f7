"""The pipeline DAG under Airflow's own scheduler, executor and triggerer, as `make up` runs
it (not `airflow dags test`): a run publishes a new command's row; a model whose test fails
fails the run, names the test and leaves `serving` as it was; a hung dbt build is ended by
its own deadline and the next run goes on."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg
import pytest

from config.settings import Settings
from database import connections
from database.names import AIRFLOW_DATABASE, WAREHOUSE_DATABASE
from pipeline.dbt import run_dbt
from services.outbox import make_producer
from services.tokens import ANALYST, CUSTOMER, issue_token
from stack.airflow import run_airflow
from stack.lifecycle import Stack
from tests.support.dag_runs import PIPELINE, warehouse
from tests.support.raw_events import stock_updated
from tests.support.signing import stack_bytes
from tests.support.throwaway_stack import free_port, throwaway_stack

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
PORTS = ("orders", "invoices", "stock", "read_api", "airflow")
SECRET = "scheduled-runs-0123456789abcdef0123456789"
BUILD_TIMEOUT_S = 90  # a build on a busy 2-core machine takes 10-30 s


@pytest.fixture(scope="module")
def stack() -> Iterator[Settings]:
    ports: dict[str, Any] = {f"{name}_port": free_port() for name in PORTS}
    with throwaway_stack(
        relay_enabled=True,
        jwt_secret=SECRET,
        dbt_build_timeout_s=BUILD_TIMEOUT_S,
        # dbt waits for a lock held in the hung-build test longer than its own deadline.
        pg_lock_timeout_s=BUILD_TIMEOUT_S * 3,
        **ports,
    ) as settings:
        Stack(settings).up(services=True, airflow=True)
        yield settings


def until(check: Callable[[], Any], seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(1)
    raise AssertionError(f"{what}: not within {seconds:.0f} s")


def place_order(settings: Settings, user: str) -> str:
    token = issue_token(settings, user, roles=(CUSTOMER,))
    r = httpx.post(
        f"http://127.0.0.1:{settings.orders_port}/orders",
        json={"customer_name": "Scheduled"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert r.status_code == 201, r.text
    return str(r.json()["order_id"])


def served_orders(settings: Settings, user: str) -> list[str]:
    """The order ids the read API answers for ``user``: what a reader sees."""
    token = issue_token(settings, "e2e-reader", roles=(ANALYST,))
    r = httpx.get(
        f"http://127.0.0.1:{settings.read_api_port}/orders-with-invoices",
        params={"userId": user},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    return [row["orderId"] for row in r.json()] if r.status_code == 200 else []


def runs_since(settings: Settings, since: datetime) -> list[tuple[str, str, str]]:
    """(run_id, run_type, state) of the pipeline's runs not ended before ``since`` (a
    continuous run may have started before, waiting for events)."""
    with connections.connect(settings, AIRFLOW_DATABASE) as conn:
        rows = conn.execute(
            "select run_id, run_type, state from dag_run where dag_id = %s"
            " and coalesce(end_date, now()) >= %s order by start_date",
            (PIPELINE, since),
        ).fetchall()
    return [(str(a), str(b), str(c)) for a, b, c in rows]


def task_states(settings: Settings, run_id: str) -> dict[str, str | None]:
    with connections.connect(settings, AIRFLOW_DATABASE) as conn:
        rows = conn.execute(
            "select task_id, state from task_instance where dag_id = %s and run_id = %s",
            (PIPELINE, run_id),
        ).fetchall()
    return {str(task): state for task, state in rows}


def failed_run(settings: Settings, since: datetime, seconds: float) -> str:
    found = until(
        lambda: [run for run, _, state in runs_since(settings, since) if state == "failed"],
        seconds,
        "a failed run",
    )
    return str(found[0])


def send_event(settings: Settings, topic: str, event: dict[str, Any]) -> None:
    producer = make_producer(settings)
    try:
        key = str(event["aggregate_id"]).encode()
        # Signed with the stack's key of its producer, as the service would: else a dead letter.
        producer.send(topic, key=key, value=stack_bytes(settings, event)).get(30)
    finally:
        producer.close()


def test_a_scheduled_run_publishes_a_new_commands_row(stack: Settings) -> None:
    since = datetime.now(UTC)
    user = f"sched-{uuid.uuid4().hex[:6]}"
    order_id = place_order(stack, user)

    until(lambda: order_id in served_orders(stack, user), 600, "the order's row served")

    # The run that published it ends a moment after its publish; its runs are scheduled ones.
    runs = until(
        lambda: [r for r, kind, state in runs_since(stack, since) if state == "success"],
        120,
        "the publishing run's end",
    )
    assert {kind for _, kind, _ in runs_since(stack, since)} == {"scheduled"}
    assert task_states(stack, runs[-1])["dbt_build"] == "success"


def test_a_failed_model_test_fails_the_run_names_it_and_serving_stays(stack: Settings) -> None:
    product = f"sku-{uuid.uuid4().hex[:8]}"
    served_before = warehouse(stack, "select count(*) from serving.products")
    since = datetime.now(UTC)
    # The stock service refuses this (409); here it reaches the broker anyway.
    oversell = stock_updated(product, 1, -8, datetime.now(UTC))
    send_event(stack, "stock.updated", oversell)
    try:
        run = failed_run(stack, since, 600)

        states = task_states(stack, run)
        assert (states["dbt_build"], states["publish"]) == ("failed", "upstream_failed"), states
        assert warehouse(stack, "select count(*) from serving.products") == served_before
        alerts = warehouse(
            stack,
            "select task_id, error from ops.pipeline_alerts where run_id = %s",
            run,
        )
        assert [task for task, _ in alerts] == ["dbt_build"]
        assert "test.cqrs_warehouse.not_negative_products_stock" in alerts[0][1]
        logs = [p for p in stack.state_dir.rglob("*.log") if "task_id=dbt_build" in str(p)]
        assert any("not_negative_products_stock" in p.read_text(errors="replace") for p in logs)
    finally:
        # The runbook's remedy: quarantine the event, rebuild the marts from the raw log.
        run_airflow(stack, "dags", "pause", PIPELINE)
        warehouse(
            stack,
            "with gone as (delete from raw.stock_updated where event_id = %s returning 1)"
            " select count(*) from gone",
            oversell["event_id"],
        )
        run_dbt(stack, "build", "--full-refresh", quiet=True)
        run_airflow(stack, "dags", "unpause", PIPELINE)


def test_a_hung_dbt_build_is_ended_by_its_deadline_and_the_next_run_goes_on(
    stack: Settings,
) -> None:
    user = f"hung-{uuid.uuid4().hex[:6]}"
    locked, release = threading.Event(), threading.Event()

    def hold_the_orders_mart() -> None:
        with psycopg.connect(stack.dsn(WAREHOUSE_DATABASE)) as conn:
            conn.execute("lock table marts.orders_with_invoices in access exclusive mode")
            locked.set()
            release.wait(BUILD_TIMEOUT_S * 3)

    holder = threading.Thread(target=hold_the_orders_mart, daemon=True)
    holder.start()
    assert locked.wait(30)
    since = datetime.now(UTC)
    try:
        first = place_order(stack, user)
        run = failed_run(stack, since, BUILD_TIMEOUT_S + 300)
        assert task_states(stack, run)["dbt_build"] == "failed"
        (error,) = warehouse(
            stack,
            "select error from ops.pipeline_alerts where run_id = %s and task_id = 'dbt_build'",
            run,
        )[0]
        assert f"ran past its {BUILD_TIMEOUT_S} s" in error
        assert first not in served_orders(stack, user)
    finally:
        release.set()
        holder.join(30)

    second = place_order(stack, user)  # a failed run's data waits for new events
    served = until(
        lambda: {first, second} <= set(served_orders(stack, user)), 600, "both orders served"
    )
    assert served
