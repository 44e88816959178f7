"""Airflow for this project: its configuration and its metadata database."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from services import db
from services.settings import REPO_ROOT, Settings

AIRFLOW_DATABASE = "airflow"
AIRFLOW = Path(sys.executable).with_name("airflow")


def airflow_home(settings: Settings) -> Path:
    return settings.state_dir / "airflow"


def airflow_env(settings: Settings) -> dict[str, str]:
    """Airflow configuration: metadata on our PostgreSQL, our DAGs, no telemetry, no examples.

    The project's own settings are passed on as ``CQRSW_*`` so that the DAGs and their tasks
    see the same stack as the command that started Airflow.
    """
    from cqrsw.dbt import dbt_env

    url = db.sqlalchemy_url(settings, AIRFLOW_DATABASE)
    home = airflow_home(settings)
    env = dbt_env(settings)  # os.environ plus the warehouse connection of profiles.yml
    for name, value in settings.model_dump(exclude_none=True).items():
        if isinstance(value, bool | int | str | float | Path):
            env[f"CQRSW_{name.upper()}"] = str(value)
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(REPO_ROOT / "dags"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        # psycopg 3 serves both Airflow's sync and async engines: no asyncpg needed.
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=url,
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC=url,
        AIRFLOW__CORE__EXECUTOR="LocalExecutor",
        # Two cores on a laptop: four dbt tasks at a time is plenty.
        AIRFLOW__CORE__PARALLELISM="4",
        # The pipeline is meant to run on its schedule as soon as the stack is up.
        AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="False",
        AIRFLOW__CORE__DAG_DISCOVERY_SAFE_MODE="False",
        AIRFLOW__COSMOS__ENABLE_TELEMETRY="False",
        GX_ANALYTICS_ENABLED="False",
        DO_NOT_TRACK="1",
        SCARF_ANALYTICS="false",
        AIRFLOW__USAGE_DATA_COLLECTION__ENABLED="False",
        CQRSW_STATE_DIR=str(settings.state_dir),
    )
    return env


def run_airflow(
    settings: Settings, *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(AIRFLOW), *args],
        env=airflow_env(settings),
        capture_output=True,
        text=True,
        check=False,
    )
    if check and done.returncode != 0:
        raise RuntimeError(
            f"airflow {' '.join(args)} failed (exit {done.returncode}):\n"
            f"{(done.stdout + done.stderr)[-6000:]}"
        )
    return done


def prepare_airflow(settings: Settings) -> None:
    """Metadata database and a fresh dbt manifest: what any Airflow run needs.

    Idempotent; run again after changing the dbt project so Cosmos renders the new models.
    """
    from cqrsw.dbt_tasks import build_manifest

    db.ensure_database(settings, AIRFLOW_DATABASE)
    run_airflow(settings, "db", "migrate")
    build_manifest(settings)
