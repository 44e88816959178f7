"""Run a DAG as Airflow runs it (`airflow dags test`) and read what it left in the warehouse."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from config.settings import Settings
from database import connections
from database.names import AIRFLOW_DATABASE, WAREHOUSE_DATABASE
from stack.airflow import run_airflow

PIPELINE = "cqrs_warehouse_pipeline"


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


def task_xcom(settings: Settings, run_id: str, task_id: str, dag_id: str = PIPELINE) -> Any:
    """The value ``task_id`` returned in run ``run_id`` (its ``return_value`` XCom)."""
    with connections.connect(settings, AIRFLOW_DATABASE) as conn:
        row = conn.execute(
            "select value::text from xcom where dag_id = %s and run_id = %s and task_id = %s"
            " and key = 'return_value'",
            (dag_id, run_id, task_id),
        ).fetchone()
    assert row is not None, f"{task_id} of {run_id} returned nothing"
    return orjson.loads(row[0])


def warehouse(settings: Settings, query: str, *params: Any) -> list[tuple[Any, ...]]:
    with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
        return conn.execute(query, params).fetchall()


def serving_rows(settings: Settings) -> list[tuple[Any, ...]]:
    return warehouse(
        settings,
        "select order_id, user_id, status, invoice_url from serving.orders_with_invoices"
        " order by order_id",
    )
