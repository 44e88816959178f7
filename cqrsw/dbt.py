"""Run dbt against the warehouse the settings point at."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from psycopg.conninfo import conninfo_to_dict

from config.settings import REPO_ROOT, Settings
from database.names import WAREHOUSE_DATABASE

DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
PROJECT_ARGS = ("--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR))


class DbtFailed(RuntimeError):
    """dbt exited non-zero: a model failed to build or a test failed."""


def dbt_env(settings: Settings) -> dict[str, str]:
    """Environment for ``dbt_project/profiles.yml``: the warehouse connection, nothing else."""
    params = conninfo_to_dict(settings.dsn(WAREHOUSE_DATABASE))
    env = dict(os.environ)
    env.update(
        CQRSW_DBT_HOST=str(params.get("host", "127.0.0.1")),
        CQRSW_DBT_PORT=str(params.get("port", "5432")),
        CQRSW_DBT_USER=str(params.get("user", "postgres")),
        CQRSW_DBT_PASSWORD=str(params.get("password", "")),
        CQRSW_DBT_DBNAME=str(params.get("dbname", WAREHOUSE_DATABASE)),
        DBT_SEND_ANONYMOUS_USAGE_STATS="False",
        DO_NOT_TRACK="1",
    )
    return env


def run_dbt(settings: Settings, *args: str, quiet: bool = False) -> str:
    """Run one dbt command in a subprocess; raise ``DbtFailed`` with its output on failure."""
    dbt = Path(sys.executable).with_name("dbt")
    argv = [str(dbt), *args, *PROJECT_ARGS]
    done = subprocess.run(
        argv,
        env=dbt_env(settings),
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


class InProcessDbt:
    """dbt in this process with the project parsed once: about 0.5 s a run instead of 6.

    For callers that run dbt many times (the replay tests, the benchmark). The pipeline
    uses ``run_dbt``: a subprocess keeps dbt's global state out of the Airflow task.
    """

    def __init__(self, settings: Settings) -> None:
        from dbt.cli.main import dbtRunner
        from dbt.contracts.graph.manifest import Manifest

        # profiles.yml reads the connection from the environment, at every invocation.
        self._env = {k: v for k, v in dbt_env(settings).items() if k.startswith("CQRSW_DBT_")}
        with self._environment():
            parsed = dbtRunner().invoke(["parse", *PROJECT_ARGS, "--quiet"])
        if not parsed.success or not isinstance(parsed.result, Manifest):
            raise DbtFailed(f"dbt parse failed: {parsed.exception}")
        self._runner = dbtRunner(manifest=parsed.result)

    @contextmanager
    def _environment(self) -> Iterator[None]:
        saved = {k: os.environ.get(k) for k in self._env}
        os.environ.update(self._env)
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value

    def __call__(self, *args: str) -> Any:
        """Run one dbt command; raise ``DbtFailed`` naming the nodes that failed."""
        with self._environment():
            done = self._runner.invoke([*args, *PROJECT_ARGS, "--quiet"])
        if not done.success:
            failures = [
                f"{r.node.name}: {r.status} {r.message}"
                for r in getattr(done.result, "results", [])
                if str(r.status) not in ("success", "pass", "warn")
            ]
            raise DbtFailed(f"dbt {' '.join(args)} failed: {failures or done.exception}")
        return done.result
