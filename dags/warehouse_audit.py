"""Daily audit: every data test and quality suite on the whole history."""

from __future__ import annotations

import pendulum
from airflow.sdk import dag

from config.settings import Settings
from pipeline.tasks.alerts import on_task_failure
from pipeline.tasks.audit import AUDIT_TIMEOUT, audit_task
from pipeline.tasks.retries import retry_args

SETTINGS = Settings()


@dag(
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["cqrs-warehouse", "quality"],
    default_args={
        **retry_args(),
        "execution_timeout": AUDIT_TIMEOUT,
        "on_failure_callback": on_task_failure,
    },
)
def warehouse_audit() -> None:
    """Run every dbt data test (the reconciliations of the marts against the event log
    included) and every Great Expectations suite on every row, once a day.

    The pipeline's checks look only at the rows that are new since their last pass, so a run
    costs what arrived, not the history (docs/adr/check-windows.md); what only the whole
    history shows is found here. A finding fails this DAG and raises `AuditFailed`; it never
    holds back a publication.
    """
    audit_task()


warehouse_audit()
