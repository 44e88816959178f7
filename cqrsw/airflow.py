"""Run Airflow commands against this project's DAGs and metadata database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict

from services.settings import REPO_ROOT, Settings

AIRFLOW_DATABASE = "airflow"


def airflow_env(settings: Settings) -> dict[str, str]:
    """Airflow configuration: metadata on our PostgreSQL, our DAGs, no telemetry, no examples."""
    p = conninfo_to_dict(settings.dsn(AIRFLOW_DATABASE))
    auth = str(p.get("user", "postgres")) + (f":{p['password']}" if p.get("password") else "")
    host, port = p.get("host", "127.0.0.1"), p.get("port", 5432)
    url = f"postgresql+psycopg://{auth}@{host}:{port}/{p['dbname']}"
    env = dict(os.environ)
    env.update(
        AIRFLOW_HOME=str(settings.state_dir / "airflow"),
        AIRFLOW__CORE__DAGS_FOLDER=str(REPO_ROOT / "dags"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        # psycopg 3 serves both Airflow's sync and async engines: no asyncpg needed.
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=url,
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC=url,
        AIRFLOW__CORE__EXECUTOR="LocalExecutor",
        AIRFLOW__COSMOS__ENABLE_TELEMETRY="False",
        AIRFLOW__CORE__DAG_DISCOVERY_SAFE_MODE="False",
        GX_ANALYTICS_ENABLED="False",
        DO_NOT_TRACK="1",
        SCARF_ANALYTICS="false",
        AIRFLOW__USAGE_DATA_COLLECTION__ENABLED="False",
        CQRSW_STATE_DIR=str(settings.state_dir),
    )
    if settings.database_url:
        env["CQRSW_DATABASE_URL"] = settings.database_url
    else:
        env["CQRSW_PG_PORT"] = str(settings.pg_port)
    if settings.kafka_bootstrap_servers:
        env["CQRSW_KAFKA_BOOTSTRAP_SERVERS"] = settings.kafka_bootstrap_servers
    else:
        env["CQRSW_KAFKA_PORT"] = str(settings.kafka_port)
    return env


def run_airflow(
    settings: Settings, *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    airflow = Path(sys.executable).with_name("airflow")
    done = subprocess.run(
        [str(airflow), *args],
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
