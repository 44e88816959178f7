"""The tail every DAG that builds the marts ends with: gate, publish, record freshness and
the gate's Data Docs (after publish: no reader waits for them)."""

from __future__ import annotations

from typing import Any

from airflow.sdk import get_current_context, task

from config.settings import Settings
from pipeline import steps as pipeline
from pipeline.tasks.assets import SERVING_VIEWS, describe_publication

# Ahead of Cosmos's watching tasks (2) in the executor's queue, whatever their number: the
# gate, publish and the tasks after it are what a reader of the views waits for.
FIRST = 10


def run_of(context: Any) -> tuple[str, str]:
    """``(dag_id, run_id)`` of the running task: its spans join the run's trace."""
    ti = context["ti"]
    return str(ti.dag_id), str(ti.run_id)


def check_and_publish() -> Any:
    """validate >> publish >> [record_freshness, data_docs], inside a DAG; returns the first
    task. A failed gate renders its Data Docs itself before it fails the run."""

    @task(priority_weight=FIRST, weight_rule="absolute")
    def validate() -> dict[str, Any]:
        return pipeline.validate_step(Settings(), run_of(get_current_context()))

    @task(outlets=list(SERVING_VIEWS.values()), priority_weight=FIRST, weight_rule="absolute")
    def publish() -> dict[str, int]:
        published = pipeline.publish_step(Settings(), run_of(get_current_context()))
        describe_publication(get_current_context()["outlet_events"], published)
        return published

    @task(priority_weight=FIRST, weight_rule="absolute")
    def record_freshness() -> dict[str, Any]:
        ti = get_current_context()["ti"]
        published = ti.xcom_pull(task_ids="publish")
        return pipeline.record_freshness_step(Settings(), published, ti.dag_id, ti.run_id)

    @task(priority_weight=FIRST, weight_rule="absolute")
    def data_docs() -> str | None:
        return pipeline.data_docs_step(Settings(), run_of(get_current_context()))

    gate = validate()
    gate >> publish() >> [record_freshness(), data_docs()]
    return gate
