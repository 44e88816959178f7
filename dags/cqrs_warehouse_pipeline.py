"""Warehouse pipeline: ingest, dbt build, quality gate, publish, record freshness."""

from __future__ import annotations

from airflow.sdk import dag

from pipeline.tasks.dag_defaults import dag_arguments
from pipeline.tasks.dbt import dbt_build
from pipeline.tasks.gate_and_publish import check_and_publish
from pipeline.tasks.ingest import ingest_or_skip


@dag(**dag_arguments(pipeline=True))
def cqrs_warehouse_pipeline() -> None:
    """Ingest the topics into raw tables, build the marts and run their tests with one
    `dbt build` (its log and XCom list each model and test), check the raw tables (beside
    the build) and the marts with Great Expectations, then publish the views that changed to
    the serving schema the read API reads and record how fresh they are.

    Continuous by default: a run starts when the previous one ends and waits in `ingest`
    for new events; with nothing new, it skips the rest. Events that arrive
    during a run are left for the next one, and only one run is ever active.

    A failed model, test or check stops the run before `publish`: the serving views stay as
    they were and an alert names what failed. Only an unreachable broker or database is
    retried.
    """
    ingest = ingest_or_skip()
    build = dbt_build()
    validate_raw, validate_marts = check_and_publish()
    ingest >> [build, validate_raw]
    build >> validate_marts


cqrs_warehouse_pipeline()
