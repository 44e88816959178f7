"""Archive the raw months past the retention to Parquet, then drop them from the warehouse."""

from __future__ import annotations

from airflow.sdk import dag

from pipeline.tasks.dag_defaults import dag_arguments
from pipeline.tasks.raw_archive import archive_task


@dag(**dag_arguments("maintenance", schedule="@daily"))
def raw_archive() -> None:
    """Export every raw partition older than `CQRSW_RAW_KEEP_MONTHS` whole months to Parquet
    (`CQRSW_RAW_ARCHIVE_DIR`), read each file back to check it, then detach and drop the
    partition; `raw.event_ids` keeps the ids, so a re-sent archived event is still known.

    A month with an event the marts have not folded yet (no fully green pipeline run since)
    is refused and fails this DAG, with nothing dropped (docs/adr/raw-partitions.md).
    `rebuild_views` puts the archived months back while it rebuilds.
    """
    archive_task()


raw_archive()
