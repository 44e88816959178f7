"""``dbt build`` in this process through dbt's programmatic entry point, ``dbtRunner``.

The pipeline's Airflow task runs its one build here: its worker imported dbt before the
task started (``stack.airflow.PRELOADED``), so a run pays no dbt start-up, and the build's
results come back as objects, not as a log to parse. The build runs in a thread the task
waits for with a deadline of its own: a build past it fails the task, naming it, instead of
holding the pipeline's only active run.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from config.settings import Settings
from pipeline.dbt import PIPELINE_EXCLUDE, PROJECT_ARGS, DbtFailed, dbt_env, dbt_session_env

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


@contextmanager
def dbt_environment(settings: Settings) -> Iterator[None]:
    """This process's environment as a dbt process of ``run_dbt`` gets it: the profile's
    connection variables (``profiles.yml`` reads them at every invocation) and the session
    timeouts (``PGOPTIONS``). What was there before comes back afterwards."""
    wanted = {**dbt_env(settings), **dbt_session_env(settings)}
    changed = {key: value for key, value in wanted.items() if os.environ.get(key) != value}
    saved = {key: os.environ.get(key) for key in changed}
    os.environ.update(changed)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def build_in_process(settings: Settings, *args: str, timeout_s: float) -> BuildReport:
    """``dbt build`` of the project (but dbt's unit tests) and ``args``; raise ``DbtFailed``
    naming every node that failed, ``DbtTimedOut`` past ``timeout_s``."""
    from dbt.cli.main import dbtRunner, dbtRunnerResult

    argv = ["build", "--exclude", *PIPELINE_EXCLUDE, *args, *PROJECT_ARGS]
    done: list[dbtRunnerResult] = []
    with dbt_environment(settings):
        # A daemon thread: a build that never returns cannot keep the process alive.
        build = threading.Thread(
            target=lambda: done.append(dbtRunner().invoke(argv)), name="dbt-build", daemon=True
        )
        build.start()
        build.join(timeout_s)
    if not done:
        raise DbtTimedOut(
            f"dbt build ran past its {timeout_s:g} s and was abandoned; nothing was published"
        )
    result = done[0]
    report = BuildReport(tuple(_outcomes(result.result)))
    if result.exception is not None:
        raise DbtFailed(f"dbt build could not run: {result.exception}")
    if not result.success or report.failed:
        raise DbtFailed(
            "dbt build failed:\n" + (describe_failures(report.failed) or "see the task log")
        )
    return report


def _outcomes(result: Any) -> Iterator[NodeOutcome]:
    """The nodes of a ``dbt build`` result (``RunExecutionResult.results``)."""
    for node_result in getattr(result, "results", None) or ():
        node = node_result.node
        yield NodeOutcome(
            unique_id=str(node.unique_id),
            resource_type=str(node.resource_type),
            status=str(node_result.status),
            message=node_result.message,
        )
