"""The daily audit as an Airflow task (pipeline/audit.py does the work)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import task

from config.settings import Settings

# Reads every row: hours on a big history, where a pipeline task has the task timeout.
AUDIT_TIMEOUT = timedelta(hours=3)


def audit_task() -> Any:
    """The ``audit`` task: every check on every row; fails (and alerts) on a finding."""

    @task(execution_timeout=AUDIT_TIMEOUT)
    def audit() -> dict[str, Any]:
        from pipeline.audit import run_audit

        return {"success": run_audit(Settings()).success}

    return audit()
