"""New events: a run waits for them, and builds only when something is left to publish.

A continuous pipeline run starts as soon as the previous one ends. It ingests at once; if
nothing was new it ingests again every ``poll_s`` seconds for up to ``wait_s``, so an idle
stack makes one short run a minute instead of a busy loop, and an event that arrives while
it waits is in the warehouse within about ``poll_s``. Events that arrive during a run stay
in Kafka, past the stored offsets, for the next run's ingest.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from config.database_settings import DbRole
from config.settings import Settings
from database import connections
from database.names import WAREHOUSE_DATABASE

Ingest = Callable[[Settings], dict[str, Any]]

# Raw rows stored since the later of the last publication and the last failed run of the
# pipeline: a run that failed (bad data, dbt error) is not repeated until new events arrive
# or an operator runs the DAG; a run that died before publishing is picked up again.
UNPUBLISHED = """
select exists (
    select 1 from raw.ingest_offsets
    where updated_at > greatest(
        (select max(published_at) from ops.view_publications),
        (select max(raised_at) from ops.pipeline_alerts where dag_id = %(dag_id)s)
    )
) or not exists (select 1 from ops.view_publications)
"""


def brought_something(summary: dict[str, Any]) -> bool:
    """An ingest summary that read messages (rows or dead letters) or reset a partition."""
    return bool(summary.get("messages") or summary.get("resets"))


def ingest_when_new(
    settings: Settings,
    ingest: Ingest,
    *,
    wait_s: float,
    poll_s: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Ingest; while nothing came, ingest again every ``poll_s`` until ``wait_s`` has passed.

    Returns the summary of the last ingest, with ``polls``: how many ingests it took.
    """
    deadline = clock() + wait_s
    polls = 1
    summary = ingest(settings)
    while not brought_something(summary) and clock() + poll_s <= deadline:
        sleep(poll_s)
        summary = ingest(settings)
        polls += 1
    return {**summary, "polls": polls}


def unpublished_rows(settings: Settings, dag_id: str) -> bool:
    """Raw rows ingested after the last publication and the last failure, or none published."""
    with connections.connect(settings, WAREHOUSE_DATABASE, role=DbRole.PUBLISHER) as conn:
        row = conn.execute(UNPUBLISHED, {"dag_id": dag_id}).fetchone()
    return bool(row and row[0])


def needs_build(settings: Settings, summary: dict[str, Any], dag_id: str) -> bool:
    """Whether dbt, the gate and publish have anything to do after this ingest."""
    return brought_something(summary) or unpublished_rows(settings, dag_id)
