"""``cqrsw-dbt ARGS...``: dbt with dbt's minimal environment, whatever environment it was given.

The manual rebuild's Cosmos tasks run dbt as a subprocess of the Airflow task, through this
executable (``ExecutionConfig.dbt_executable_path``). The task's environment holds other
roles' passwords (the ingest's, the publisher's), and Cosmos hands a subprocess all of it; a
model reads any variable of its process with ``env_var()``. So this reads the settings from
the environment it got, then replaces itself with dbt (``execve``) in the environment
``pipeline.dbt.dbt_process_env`` builds: the dbt role's connection and nothing secret else,
as the pipeline's own build gets (``pipeline.dbt_runner``). dbt also dies with the task that
started it, as that build does.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from config.settings import settings_or_exit
from pipeline.dbt import dbt_process_env
from pipeline.dbt_build_process import die_with_parent

DBT = Path(sys.executable).with_name("dbt")
# This executable, beside dbt in the same environment (pyproject.toml's [project.scripts]).
LAUNCHER = Path(sys.executable).with_name("cqrsw-dbt")


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    env = dbt_process_env(settings_or_exit())
    die_with_parent(os.getppid())  # kept across execve: dbt ends with the task
    os.execve(DBT, [str(DBT), *args], env)  # noqa: S606 dbt itself, its arguments as given


if __name__ == "__main__":
    main()
