"""The raw archive as Airflow tasks (pipeline/raw_archive.py does the work)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import task

from config.settings import Settings

# Writes and reads back a month of events: longer than a pipeline task's limit.
ARCHIVE_TIMEOUT = timedelta(hours=3)


def archive_task() -> Any:
    """The ``archive`` task: the months past the retention, to Parquet, then dropped."""

    @task(execution_timeout=ARCHIVE_TIMEOUT)
    def archive() -> dict[str, Any]:
        from pipeline.raw_archive import archive_past_retention

        done = archive_past_retention(Settings())
        return {"archived": [m.partition for m in done], "rows": sum(m.rows for m in done)}

    return archive()


def restore_task() -> Any:
    """``restore_archive``: archived months back in raw, for a rebuild of the whole history."""

    @task(execution_timeout=ARCHIVE_TIMEOUT)
    def restore_archive() -> list[str]:
        from pipeline.raw_archive import restore

        return restore(Settings())

    return restore_archive()


def release_task() -> Any:
    """``release_archive``: drop the restored months again, whether the rebuild passed or not."""

    @task(trigger_rule="all_done")
    def release_archive() -> list[str]:
        from pipeline.raw_archive import release

        return release(Settings())

    return release_archive()
