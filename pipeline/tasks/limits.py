"""How long an Airflow task may run: every task has an ``execution_timeout``.

A hung task (a dead broker, a lock never released) would otherwise hold its slot and the
DAG's only active run forever; past the timeout Airflow kills it and the run fails loudly.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from config.dag_settings import DagSettings

# The ingest task stops itself at its deadline; Airflow's timeout is the backstop behind it.
INGEST_MARGIN = timedelta(minutes=2)


def time_limits(settings: DagSettings) -> dict[str, Any]:
    """Default task arguments: the execution timeout of every task of a DAG."""
    return {"execution_timeout": timedelta(seconds=settings.task_timeout_s)}


def ingest_timeout(settings: DagSettings) -> timedelta:
    return timedelta(seconds=settings.ingest_deadline_s) + INGEST_MARGIN
