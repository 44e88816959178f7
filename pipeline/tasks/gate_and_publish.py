"""The tail every DAG that builds the marts ends with: the gate in two parts, then publish
(which records how fresh the published views are); and the Data Docs task of the DAG that
renders them after each publication."""

from __future__ import annotations

from typing import Any

from airflow.sdk import get_current_context, task

from config.settings import Settings
from pipeline import steps as pipeline
from pipeline.tasks.assets import SERVING_VIEWS, describe_publication

# Ahead of Cosmos's watching tasks (2) in the executor's queue, whatever their number: the
# gate's two parts and publish are what a reader of the views waits for.
FIRST = 10


def run_of(context: Any) -> tuple[str, str]:
    """``(dag_id, run_id)`` of the running task: its spans join the run's trace."""
    ti = context["ti"]
    return str(ti.dag_id), str(ti.run_id)


def check_and_publish() -> tuple[Any, Any]:
    """[validate_raw, validate_marts] >> publish, inside a DAG; returns (validate_raw,
    validate_marts) for the caller to place.

    The raw tables' part of the gate does not wait for dbt: they do not change while it
    builds, so the caller starts it beside the build, and only the marts' part is left
    between the build and publish. A failed part renders its Data Docs itself before it
    fails the run; after a publication the ``data_docs`` DAG renders them (no reader, nor
    the pipeline's next run, waits for that).
    """

    @task(priority_weight=FIRST, weight_rule="absolute")
    def validate_raw() -> dict[str, Any]:
        return pipeline.validate_step(Settings(), run_of(get_current_context()), part="raw")

    @task(priority_weight=FIRST, weight_rule="absolute")
    def validate_marts() -> dict[str, Any]:
        return pipeline.validate_step(Settings(), run_of(get_current_context()), part="marts")

    @task(outlets=list(SERVING_VIEWS.values()), priority_weight=FIRST, weight_rule="absolute")
    def publish() -> dict[str, Any]:
        """Publish, then record what was published and how fresh it is (``ops``)."""
        context = get_current_context()
        settings = Settings()
        published = pipeline.publish_step(settings, run_of(context))
        describe_publication(context["outlet_events"], published)
        ti = context["ti"]
        return pipeline.record_freshness_step(settings, published, ti.dag_id, ti.run_id)

    raw, marts = validate_raw(), validate_marts()
    [raw, marts] >> publish()
    return raw, marts


def render_data_docs() -> Any:
    """The ``data_docs`` task: the gate's newest results as Data Docs, inside a DAG."""

    @task
    def data_docs() -> str | None:
        return pipeline.data_docs_step(Settings(), run_of(get_current_context()))

    return data_docs()
