"""The settings a DAG's shape depends on: its schedule, catch-up and task time limits.

``Settings`` extends this class. Built alone, as the DAG files do each time Airflow parses
them, it reads only these variables: no secrets, no files, no connection strings.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class DagSettings(BaseSettings):
    """Read from the environment with the prefix ``CQRSW_``, like ``Settings``."""

    model_config = SettingsConfigDict(env_prefix="CQRSW_", env_file=".env", extra="ignore")

    # Bounded time: no ingest run or task may hang the pipeline.
    ingest_deadline_s: float = Field(
        default=900,
        gt=0,
        le=86_400,
        description="An ingest run stops reading at this deadline, commits what it read and"
        " fails, saying so (a dead broker, a stuck partition).",
    )
    task_timeout_s: float = Field(
        default=1800,
        gt=0,
        le=86_400,
        description="execution_timeout of every Airflow task (the ingest task: its deadline"
        " plus a margin).",
    )
    dbt_build_timeout_s: float = Field(
        default=1200,
        gt=0,
        le=86_400,
        description="A pipeline run's dbt build past this fails its task, naming it, and the"
        " next run starts (keep it under CQRSW_TASK_TIMEOUT_S).",
    )
    pipeline_schedule: str = Field(
        default="@continuous",
        description="Schedule of the cqrs_warehouse_pipeline DAG: `@continuous` (a run starts"
        " as the previous one ends and waits for new events) or a cron expression.",
    )
    pipeline_catchup: bool = Field(
        default=False, description="Let the scheduler run missed intervals of the pipeline."
    )
