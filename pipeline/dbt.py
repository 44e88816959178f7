"""Run dbt against the warehouse the settings point at."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict

from config.database_settings import DbRole
from config.settings import DBT_PROJECT_DIR, Settings
from database.names import WAREHOUSE_DATABASE

AUDIT_TAG = "audit"
PROJECT_ARGS = ("--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR))
# Left out of the pipeline's builds (the direct pass and the DAGs' Cosmos groups): dbt unit
# tests check the models' SQL on fixed inputs, not the data, so they cannot fail on a run
# whose code did not change; `make test` runs them (tests/integration/test_dbt_unit_tests.py).
# The data tests tagged `audit` read whole histories: the daily audit runs them
# (pipeline/audit.py, docs/adr/check-windows.md).
PIPELINE_EXCLUDE = ("resource_type:unit_test", f"tag:{AUDIT_TAG}")


class DbtFailed(RuntimeError):
    """dbt exited non-zero: a model failed to build or a test failed."""


def dbt_threads(settings: Settings) -> int:
    """dbt threads: as set, or one per core (dbt waits on PostgreSQL, which shares the cores)."""
    return settings.dbt_threads or os.cpu_count() or 1


# What dbt's process may inherit besides its connection: where programs and its home are,
# the locale and time zone, a temp dir. Nothing else: a model's ``env_var()`` must not be able
# to read another role's password (or the admin URL) and write it into a table.
INHERITED_VARIABLES = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "USER")
NO_TELEMETRY = {"DBT_SEND_ANONYMOUS_USAGE_STATS": "False", "DO_NOT_TRACK": "1"}


def offline_dbt_env(settings: Settings) -> dict[str, str]:
    """Environment for dbt commands that never connect (``parse``): no credentials needed,
    so a fresh checkout can parse before any stack has made the roles' passwords."""
    env = dict(os.environ)
    env.update(CQRSW_DBT_THREADS=str(dbt_threads(settings)), **NO_TELEMETRY)
    return env


def dbt_connection_env(settings: Settings) -> dict[str, str]:
    """The variables ``dbt_project/profiles.yml`` reads: the dbt role's warehouse connection,
    TLS parameters included (built from the same libpq string every component uses)."""
    params = conninfo_to_dict(settings.dsn(WAREHOUSE_DATABASE, DbRole.DBT))
    env = {
        "CQRSW_DBT_THREADS": str(dbt_threads(settings)),
        "CQRSW_DBT_HOST": str(params.get("host", "127.0.0.1")),
        "CQRSW_DBT_PORT": str(params.get("port", "5432")),
        "CQRSW_DBT_USER": str(params.get("user", "postgres")),
        "CQRSW_DBT_PASSWORD": str(params.get("password", "")),
        "CQRSW_DBT_DBNAME": str(params.get("dbname", WAREHOUSE_DATABASE)),
    }
    env.update({f"CQRSW_DBT_{k.upper()}": v for k, v in settings.tls_parameters().items()})
    return env


def dbt_env(settings: Settings) -> dict[str, str]:
    """This process's environment plus the dbt connection (for Airflow, which runs dbt)."""
    return {**offline_dbt_env(settings), **dbt_connection_env(settings)}


def dbt_process_env(settings: Settings, *, offline: bool = False) -> dict[str, str]:
    """The whole environment of a dbt process: its own connection and nothing secret else.

    Every place that starts dbt (``run_dbt``, the pipeline's tasks) builds its environment
    here, so that dbt holds the dbt role's password and no other.
    """
    env = {k: os.environ[k] for k in INHERITED_VARIABLES if k in os.environ}
    env.update(NO_TELEMETRY)
    if offline:
        env["CQRSW_DBT_THREADS"] = str(dbt_threads(settings))
        return env
    return {**env, **dbt_connection_env(settings), **dbt_session_env(settings)}


def dbt_session_env(settings: Settings) -> dict[str, str]:
    """``PGOPTIONS`` for dbt's connections: the statement and lock timeouts of ``Settings.dsn``.

    dbt-postgres has no profile field for libpq ``options`` (only ``search_path``, which
    would replace them), so libpq reads them from the environment of the dbt process. Kept
    out of ``dbt_env``, which Airflow's own processes inherit: their metadata connections
    keep Airflow's defaults.
    """
    options = conninfo_to_dict(settings.dsn(WAREHOUSE_DATABASE)).get("options")
    return {"PGOPTIONS": str(options)} if options else {}


def run_dbt(settings: Settings, *args: str, quiet: bool = False, offline: bool = False) -> str:
    """Run one dbt command in a subprocess; raise ``DbtFailed`` with its output on failure.

    ``offline``: the command never connects (``parse``), so it gets no credentials.
    """
    dbt = Path(sys.executable).with_name("dbt")
    argv = [str(dbt), *args, *PROJECT_ARGS]
    env = dbt_process_env(settings, offline=offline)
    done = subprocess.run(
        argv,
        env=env,
        cwd=DBT_PROJECT_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    output = done.stdout + done.stderr
    if not quiet:
        print(output)
    if done.returncode != 0:
        raise DbtFailed(f"dbt {' '.join(args)} failed (exit {done.returncode}):\n{output[-4000:]}")
    return output
