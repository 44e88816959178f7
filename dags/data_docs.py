"""Render the Data Docs after every publication of the serving views."""

from __future__ import annotations

from airflow.sdk import AssetAny, dag

from pipeline.tasks.assets import SERVING_VIEWS
from pipeline.tasks.dag_defaults import dag_arguments
from pipeline.tasks.gate_and_publish import render_data_docs


@dag(**dag_arguments("quality", schedule=AssetAny(*SERVING_VIEWS.values())))
def data_docs() -> None:
    """Render the Great Expectations results of the gate that let the views through as Data
    Docs (an HTML site), once a `publish` task (of `cqrs_warehouse_pipeline` or
    `rebuild_views`) has updated the serving views.

    Outside the pipeline's run on purpose: nobody reading the views waits for the pages, and
    the pipeline's next run does not wait for them either. A failed gate renders its pages
    itself before it fails its run.
    """
    render_data_docs()


data_docs()
