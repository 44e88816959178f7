"""The pipeline's ``dbt build``: a process of its own with dbt's minimal environment.

The Airflow task that runs it holds other roles' passwords (the ingest's, the publisher's);
dbt must not: a model can read any variable of its process with ``env_var()`` and write it
into a mart. So the build runs in a child process (``pipeline.dbt_build_process``, which
calls dbt's programmatic entry point ``dbtRunner``) whose environment is
``pipeline.dbt.dbt_process_env``: the dbt role's connection and nothing secret else. The
child writes each node's outcome to a file, so failures are named from dbt's own results,
not from a log. Past its deadline the child is killed and the task fails, naming it,
instead of holding the pipeline's only active run.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config.settings import DBT_PROJECT_DIR, Settings
from pipeline.dbt import PIPELINE_EXCLUDE, PROJECT_ARGS, DbtFailed, dbt_process_env

log = logging.getLogger(__name__)

# What dbt reports of a node that did its job; anything else fails the build.
PASSED = frozenset({"success", "pass", "warn"})


class DbtTimedOut(DbtFailed):
    """The build ran past its deadline; what it had written stays unpublished."""


@dataclass(frozen=True)
class NodeOutcome:
    """One node of a build: a model, a seed, a snapshot or a test, and how it ended."""

    unique_id: str
    resource_type: str
    status: str
    message: str | None

    @property
    def passed(self) -> bool:
        return self.status in PASSED


@dataclass(frozen=True)
class BuildReport:
    nodes: tuple[NodeOutcome, ...]

    @property
    def failed(self) -> tuple[NodeOutcome, ...]:
        return tuple(node for node in self.nodes if not node.passed)

    def as_dict(self) -> dict[str, Any]:
        """Each node's status by kind, for the task's log and XCom."""
        kinds: dict[str, dict[str, str]] = {}
        for node in self.nodes:
            kinds.setdefault(node.resource_type, {})[node.unique_id] = node.status
        return kinds


def describe_failures(failed: tuple[NodeOutcome, ...]) -> str:
    """One line per failed node: what it is, its status, what dbt said of it."""
    return "\n".join(
        f"{node.resource_type} {node.unique_id}: {node.status}"
        + (f" ({node.message})" if node.message else "")
        for node in failed
    )


def run_build(settings: Settings, *args: str, timeout_s: float) -> BuildReport:
    """``dbt build`` of the project (but dbt's unit tests) and ``args``; raise ``DbtFailed``
    naming every node that failed, ``DbtTimedOut`` past ``timeout_s``."""
    argv = ["build", "--exclude", *PIPELINE_EXCLUDE, *args, *PROJECT_ARGS]
    with tempfile.TemporaryDirectory(prefix="cqrsw-dbt-") as folder:
        report_file = Path(folder) / "report.json"
        command = [
            sys.executable,
            "-m",
            "pipeline.dbt_build_process",
            str(os.getpid()),
            str(report_file),
            *argv,
        ]
        try:
            done = subprocess.run(
                command,
                env=dbt_process_env(settings),
                cwd=DBT_PROJECT_DIR,
                capture_output=True,
                text=True,
                timeout=timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise DbtTimedOut(
                f"dbt build ran past its {timeout_s:g} s and was stopped; nothing was published"
            ) from None
        log.info("dbt build:\n%s%s", done.stdout, done.stderr)
        if not report_file.exists():
            raise DbtFailed(
                f"dbt build could not run (exit {done.returncode}): {done.stderr[-2000:]}"
            )
        outcome = json.loads(report_file.read_text())
    report = BuildReport(tuple(NodeOutcome(**node) for node in outcome["nodes"]))
    if outcome["exception"] is not None:
        raise DbtFailed(f"dbt build could not run: {outcome['exception']}")
    if not outcome["success"] or report.failed:
        raise DbtFailed(
            "dbt build failed:\n" + (describe_failures(report.failed) or "see the task log")
        )
    return report
