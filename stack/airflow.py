"""Airflow for this project: its configuration, its metadata database and its processes."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from config.database_settings import DbRole
from config.settings import REPO_ROOT, Settings
from database import connections
from database.names import AIRFLOW_DATABASE
from stack.processes import PidFile, StackError, port_free, spawn, wait_until

ADMIN_USER = "admin"
DEV_ADMIN_PASSWORD = "admin"
AIRFLOW = Path(sys.executable).with_name("airflow")


@dataclass(frozen=True)
class Component:
    """One long-running Airflow process that `stack up --airflow` starts."""

    command: str
    health_key: str | None  # its entry in /api/v2/monitor/health, if it has one
    options: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return f"airflow-{self.command}"

    def pid_file(self, settings: Settings) -> PidFile:
        # The api-server renames its process "airflow api_server -- host:...": match both.
        # No port on the command line: the start time in the pid file and the process mark
        # (state dir) in its environment tell this stack's from another checkout's.
        marker = f"airflow {self.command[:3]}"
        return PidFile(settings.state_dir, self.name, marker)


COMPONENTS = (
    Component("api-server", None),
    # Airflow's log server binds every interface (its host is not configurable); with the
    # LocalExecutor the api-server reads task logs from the shared log folder instead.
    Component("scheduler", "scheduler", ("--skip-serve-logs",)),
    Component("dag-processor", "dag_processor"),
    # Deferrable tasks and asset watchers wait in it, as in every Airflow deployment.
    Component("triggerer", "triggerer", ("--skip-serve-logs",)),
)


# Each task runs in a process forked from a LocalExecutor worker and first imports the DAG
# file: Cosmos and the pipeline (and Great Expectations for the gate, 10-20 s on a busy
# 2-core machine). Workers started from a forkserver that imported them already hand them
# to every task for free (docs/benchmarks.md, freshness). The DAG files only change with
# the code, so the processor re-parses them every two minutes instead of every 30 s.
PRELOADED = (
    "airflow.sdk.execution_time.task_runner",
    "cosmos",
    "pipeline.tasks.dbt",
    "pipeline.tasks.gate_and_publish",
    "pipeline.tasks.ingest",
    "quality.gate",
    "quality.suites",
)
FAST_TASK_START = {
    "AIRFLOW__SCHEDULER__MP_START_METHOD": "forkserver",
    "AIRFLOW__SCHEDULER__MP_FORKSERVER_PRELOAD": ",".join(PRELOADED),
    "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "120",
    "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
    # A finished task's successor is queued on the scheduler's next loop: an idle loop sleeps
    # a quarter of a second instead of one, which a run pays once per step (ingest, dbt, gate,
    # publish).
    "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.25",
}
# A scheduler that died (and was started again by the supervisor) leaves its running tasks'
# rows "running". The new one resets the tasks of a scheduler whose heartbeat stopped, but
# looks for them only every five minutes by default: every 30 s here, so a continuous run
# goes on within a minute or so instead of five.
RECOVERY = {"AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL": "30"}


def airflow_home(settings: Settings) -> Path:
    return settings.state_dir / "airflow"


def ui_url(settings: Settings) -> str:
    return f"http://localhost:{settings.airflow_port}"


def admin_password(settings: Settings) -> str:
    if settings.airflow_admin_password is not None:
        return settings.airflow_admin_password.get_secret_value()
    if settings.env == "prod":
        raise StackError("airflow: CQRSW_AIRFLOW_ADMIN_PASSWORD is required when CQRSW_ENV=prod")
    return DEV_ADMIN_PASSWORD


def airflow_env(settings: Settings) -> dict[str, str]:
    """Airflow configuration: metadata on our PostgreSQL, our DAGs, no telemetry, no examples.

    The project's own settings are passed on as ``CQRSW_*`` so that the DAGs and their tasks
    see the same stack as the command that started Airflow.
    """
    from pipeline.dbt import dbt_env

    url = connections.sqlalchemy_url(settings, AIRFLOW_DATABASE, DbRole.AIRFLOW)
    home = airflow_home(settings)
    env = dbt_env(settings)  # os.environ plus the warehouse connection of profiles.yml
    env.update(settings.as_env())
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(REPO_ROOT / "dags"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        # psycopg 3 serves both Airflow's sync and async engines: no asyncpg needed.
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=url,
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC=url,
        AIRFLOW__CORE__EXECUTOR="LocalExecutor",
        # Two cores on a laptop. Six tasks at a time: a pipeline run has at most two (dbt
        # build beside the raw tables' gate), a manual rebuild a few more.
        AIRFLOW__CORE__PARALLELISM="6",
        **FAST_TASK_START,
        **RECOVERY,
        # The pipeline is meant to run on its schedule as soon as the stack is up.
        AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="False",
        AIRFLOW__CORE__DAG_DISCOVERY_SAFE_MODE="False",
        AIRFLOW__API__HOST="127.0.0.1",
        AIRFLOW__API__PORT=str(settings.airflow_port),
        AIRFLOW__API__WORKERS="1",
        AIRFLOW__API__INSTANCE_NAME="cqrs-warehouse",
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=(
            f"http://127.0.0.1:{settings.airflow_port}/execution/"
        ),
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=f"{ADMIN_USER}:admin",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=str(home / "passwords.json"),
        AIRFLOW__COSMOS__ENABLE_TELEMETRY="False",
        GX_ANALYTICS_ENABLED="False",
        DO_NOT_TRACK="1",
        SCARF_ANALYTICS="false",
        AIRFLOW__USAGE_DATA_COLLECTION__ENABLED="False",
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
    """Metadata database, the UI login and a fresh dbt manifest: what any Airflow run needs.

    Idempotent; run again after changing the dbt project so Cosmos renders the new models.
    """
    from pipeline.tasks.dbt import build_manifest

    password = admin_password(settings)
    run_airflow(settings, "db", "migrate")
    passwords = airflow_home(settings) / "passwords.json"
    passwords.parent.mkdir(parents=True, exist_ok=True)
    passwords.touch(mode=0o600)
    passwords.write_text(json.dumps({ADMIN_USER: password}) + "\n")
    build_manifest(settings)


def start_airflow(
    settings: Settings, components: Sequence[Component] = COMPONENTS
) -> tuple[str, list[str]]:
    """Start the components that are not running; wait until the API reports them healthy.

    Returns where the UI listens and which components this call started. If they do not
    become healthy, the ones this call started are stopped again.
    """
    api_server = COMPONENTS[0]
    logs = settings.state_dir / "logs"
    missing = [c for c in components if c.pid_file(settings).process() is None]
    if not missing:
        return f"{ui_url(settings)} (already running)", []
    if api_server in missing and not port_free(settings.airflow_port):
        raise StackError(f"airflow: port {settings.airflow_port} on 127.0.0.1 is already in use")
    env = airflow_env(settings)
    started: list[str] = []
    procs = {}
    try:
        for component in missing:
            procs[component] = spawn(
                component.pid_file(settings),
                [str(AIRFLOW), component.command, *component.options],
                logs / f"{component.name}.log",
                env=env,
            )
            started.append(component.name)
        wanted = ["metadatabase"] + [c.health_key for c in components if c.health_key]
        wait_until(
            "airflow",
            lambda: _healthy(settings, wanted),
            procs.get(api_server),
            logs / f"{api_server.name}.log",
            timeout=180,
        )
    except BaseException:
        stop_airflow(settings, started)
        raise
    return ui_url(settings), started


def stop_airflow(settings: Settings, names: list[str] | None = None) -> list[str]:
    """Stop the given components (all by default), the api-server last; return those that ran."""
    stopped = []
    for component in reversed(COMPONENTS):
        if names is not None and component.name not in names:
            continue
        if component.pid_file(settings).stop(timeout=30):
            stopped.append(component.name)
    return stopped


def airflow_status(settings: Settings) -> dict[str, str]:
    report = {}
    for component in COMPONENTS:
        where = ui_url(settings) if component == COMPONENTS[0] else "local"
        report[component.name] = f"{where} {component.pid_file(settings).state()}"
    return report


def health(settings: Settings) -> dict[str, str]:
    """Status of each part the API server knows of (metadatabase, scheduler, dag_processor...)."""
    url = f"http://127.0.0.1:{settings.airflow_port}/api/v2/monitor/health"
    body = httpx.get(url, timeout=2).raise_for_status().json()
    return {part: str(value.get("status")) for part, value in body.items() if value}


def _healthy(settings: Settings, wanted: list[str]) -> bool:
    try:
        parts = health(settings)
    except (httpx.HTTPError, ValueError):
        return False
    return all(parts.get(part) == "healthy" for part in wanted)
