"""Daily audit: every data test and quality suite on the whole history."""

from __future__ import annotations

from airflow.sdk import dag

from pipeline.tasks.audit import audit_task
from pipeline.tasks.dag_defaults import dag_arguments


@dag(**dag_arguments("quality", schedule="@daily"))
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
