"""Every DAG imports cleanly, with the tasks, order, schedule and outlets the pipeline promises.

No stack runs: Airflow parses the DAG files with a throwaway home, and Cosmos renders the dbt
tasks from the manifest `make manifest` builds (`dbt parse`, no database).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from typing import Any

import pytest

from config.database_settings import DbRole
from config.settings import REPO_ROOT, Settings
from database.warehouse import MARTS
from pipeline.dbt_launcher import LAUNCHER
from pipeline.tasks.audit import AUDIT_TIMEOUT
from pipeline.tasks.dbt import MANIFEST_PATH, build_manifest
from pipeline.tasks.gate_and_publish import FIRST
from pipeline.tasks.raw_archive import ARCHIVE_TIMEOUT
from stack.airflow import airflow_env

# Parsed in a subprocess: Airflow reads its configuration once, from the environment.
PARSE = """
import json
from airflow.dag_processing.dagbag import DagBag

def describe(dag):
    return {
        "downstream": {t.task_id: sorted(t.downstream_task_ids) for t in dag.tasks},
        "catchup": dag.catchup,
        "schedule": dag.schedule if isinstance(dag.schedule, str) or dag.schedule is None
        else repr(dag.schedule),
        "params": sorted(dag.params.keys()),
        "doc": dag.doc_md or "",
        "outlets": {t.task_id: sorted(a.name for a in t.outlets) for t in dag.tasks if t.outlets},
        "retry_policy": {t.task_id: type(t.retry_policy).__name__ for t in dag.tasks},
        "on_failure": {t.task_id: bool(t.on_failure_callback) for t in dag.tasks},
        "on_success": sorted(t.task_id for t in dag.tasks if t.on_success_callback),
        "timeout_s": {t.task_id: t.execution_timeout and t.execution_timeout.total_seconds()
                      for t in dag.tasks},
        "types": {t.task_id: type(t).__name__ for t in dag.tasks},
        "max_active_runs": dag.max_active_runs,
        "retries": {t.task_id: t.retries for t in dag.tasks},
        "dbt_executable": {t.task_id: str(t.dbt_executable_path) for t in dag.tasks
                           if getattr(t, "dbt_executable_path", None)},
        "append_env": {t.task_id: t.append_env for t in dag.tasks if hasattr(t, "append_env")},
        "retry_decisions": retry_decisions(dag.get_task(
            {"data_docs": "data_docs", "warehouse_audit": "audit", "raw_archive": "archive"}
            .get(dag.dag_id, "validate_marts")
        )),
        "exclude": {t.task_id: t.exclude for t in dag.tasks if getattr(t, "exclude", None)},
        "pool": {t.task_id: t.pool for t in dag.tasks},
        "watched_tests": {t.task_id: list(t.test_unique_ids) for t in dag.tasks
                          if hasattr(t, "test_unique_ids")},
        "upstream": {t.task_id: sorted(t.upstream_task_ids) for t in dag.tasks},
        "from_trigger": {t.task_id: [t.start_trigger_args.trigger_cls,
                                     t.start_trigger_args.trigger_kwargs]
                         for t in dag.tasks if t.start_from_trigger},
        "dbt_cmd_flags": {t.task_id: list(t.dbt_cmd_flags) for t in dag.tasks
                          if getattr(t, "dbt_cmd_flags", None) is not None},
        "invocation": {t.task_id: str(t.invocation_mode) for t in dag.tasks
                       if getattr(t, "invocation_mode", None)},
        "macros": sorted(dag.user_defined_macros or {}),
        "priority": {t.task_id: (t.priority_weight, str(getattr(t.weight_rule, "value",
                     t.weight_rule))) for t in dag.tasks},
    }

def retry_decisions(task):
    import psycopg
    from quality.gate import DataQualityFailed
    policy = task.retry_policy
    return {
        "database down": policy.evaluate(psycopg.OperationalError("refused"), 1, 5).action.value,
        "bad data": policy.evaluate(DataQualityFailed("1 unexpected"), 1, 5).action.value,
    }

bag = DagBag()
print(json.dumps({
    "errors": {k: str(v) for k, v in bag.import_errors.items()},
    "dags": {dag_id: describe(dag) for dag_id, dag in bag.dags.items()},
}))
"""

SERVING = sorted(f"serving.{mart.name}" for mart in MARTS)  # what publish writes


@pytest.fixture(scope="module")
def parsed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    settings = Settings(state_dir=tmp_path_factory.mktemp("state"))
    # Parsing connects nowhere, but the DSNs it builds need each role's password to exist.
    settings.secrets_dir.mkdir()
    for role in ("postgres", *DbRole):
        (settings.secrets_dir / role).write_text("not-used-to-connect\n")
    if not MANIFEST_PATH.exists():  # `make unit` builds it first; a bare pytest run here
        build_manifest(settings)
    done = subprocess.run(
        [sys.executable, "-c", PARSE], env=airflow_env(settings), capture_output=True,
        text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def reachable(downstream: dict[str, list[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for nxt in downstream[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_dags_import_without_errors(parsed: dict[str, Any]) -> None:
    assert parsed["errors"] == {}
    assert set(parsed["dags"]) == {
        "cqrs_warehouse_pipeline",
        "rebuild_views",
        "data_docs",
        "warehouse_audit",
        "raw_archive",
    }
    assert all(dag["doc"] for dag in parsed["dags"].values())  # the docstring is the DAG doc


def test_pipeline_runs_ingest_dbt_gate_publish_freshness(parsed: dict[str, Any]) -> None:
    dag = parsed["dags"]["cqrs_warehouse_pipeline"]
    down, types = dag["downstream"], dag["types"]
    # One `dbt build` of the whole project in one plain task (dbtRunner in its process): no
    # task per model, nothing deferred, no Cosmos operator.
    assert set(down) == {"ingest", "dbt_build", "validate_raw", "validate_marts", "publish"}
    assert types["dbt_build"] == "_PythonDecoratedOperator"
    assert dag["from_trigger"] == {}
    # ingest is a short-circuit that skips everything after it when nothing is new
    assert types["ingest"] == "_ShortCircuitDecoratedOperator"
    # the marts' part of the gate waits for the build; the raw tables' part runs beside it
    assert sorted(down["ingest"]) == ["dbt_build", "validate_raw"]
    assert down["dbt_build"] == ["validate_marts"]
    assert dag["retries"]["dbt_build"] == 0  # a failed build fails the same way twice
    first = ("dbt_build", "validate_raw", "validate_marts", "publish")
    assert {tuple(dag["priority"][t]) for t in first} == {(FIRST, "absolute")}
    assert down["validate_raw"] == down["validate_marts"] == ["publish"]
    # publish records the freshness itself; the Data Docs are the data_docs DAG's: a run
    # ends with its publish, and the next one starts
    assert down["publish"] == []
    assert dag["outlets"] == {"publish": SERVING}
    # a run starts when the previous one ends; never two at once, so a burst queues nothing
    assert (dag["schedule"], dag["catchup"], dag["max_active_runs"]) == ("@continuous", False, 1)


def test_rebuild_views_is_manual_with_a_date_param(parsed: dict[str, Any]) -> None:
    dag = parsed["dags"]["rebuild_views"]
    down = dag["downstream"]
    assert dag["schedule"] is None
    assert dag["params"] == ["from_date"]
    assert "ingest" not in down
    assert all("validate_marts" in reachable(down, t) for t in down if t.startswith("dbt_rebuild."))
    builds = {t for t, kind in dag["types"].items() if kind == "DbtBuildLocalOperator"}
    assert builds
    assert all(dag["exclude"][t].startswith("resource_type:unit_test") for t in builds)
    # dbt runs as a process of its own through the launcher that keeps dbt's environment only
    # (the task's holds the ingest's and the publisher's passwords): never dbtRunner in the task
    assert set(dag["dbt_executable"]) == set(dag["invocation"]) >= builds
    assert set(dag["dbt_executable"].values()) == {str(LAUNCHER)}
    assert set(dag["invocation"].values()) == {"InvocationMode.SUBPROCESS"}
    # the launcher reads its settings from the task's environment, then keeps dbt's part
    assert all(dag["append_env"][t] for t in dag["dbt_executable"])
    assert (down["validate_raw"], down["validate_marts"], down["publish"]) == (
        ["publish", "release_archive"],
        ["publish", "release_archive"],
        [],
    )
    assert dag["outlets"] == {"publish": SERVING}
    # The archived months are back before anything reads raw, dropped again after the checks.
    readers = [t for t in down if t.startswith("dbt_rebuild.")] + ["validate_raw"]
    assert set(readers) <= reachable(down, "restore_archive")
    assert all("release_archive" in reachable(down, t) for t in [*readers, "validate_marts"])
    assert down["release_archive"] == []


def test_no_dag_runs_dbt_in_its_task_s_process(parsed: dict[str, Any]) -> None:
    """Every Cosmos task of every DAG starts dbt through the launcher, as a subprocess."""
    for dag_id, dag in parsed["dags"].items():
        cosmos = {t for t, kind in dag["types"].items() if kind.startswith("Dbt")}
        assert set(dag["dbt_executable"]) == set(dag["invocation"]) == cosmos, dag_id
        assert set(dag["dbt_executable"].values()) <= {str(LAUNCHER)}, dag_id
        assert set(dag["invocation"].values()) <= {"InvocationMode.SUBPROCESS"}, dag_id


def test_the_raw_archive_runs_daily_and_alerts_on_failure(parsed: dict[str, Any]) -> None:
    dag = parsed["dags"]["raw_archive"]
    assert dag["schedule"] == "@daily"
    assert dag["catchup"] is False and dag["max_active_runs"] == 1
    assert list(dag["downstream"]) == ["archive"]
    assert dag["on_failure"] == {"archive": True}
    assert dag["timeout_s"]["archive"] == ARCHIVE_TIMEOUT.total_seconds()


def test_data_docs_are_rendered_after_each_publication(parsed: dict[str, Any]) -> None:
    dag = parsed["dags"]["data_docs"]
    assert list(dag["downstream"]) == ["data_docs"]
    assert dag["schedule"].startswith("AssetAny(")
    assert all(view in dag["schedule"] for view in SERVING)
    assert dag["max_active_runs"] == 1


def test_every_task_retries_only_transient_failures_and_alerts(parsed: dict[str, Any]) -> None:
    for dag in parsed["dags"].values():
        assert set(dag["retry_policy"].values()) == {"RetryWhenUnreachable"}
        assert dag["retry_decisions"] == {"database down": "retry", "bad data": "fail"}
        assert all(dag["on_failure"].values())


def test_every_dbt_model_task_records_a_span_of_its_run(parsed: dict[str, Any]) -> None:
    dag = parsed["dags"]["rebuild_views"]
    dbt_builds = [  # ephemeral models run no dbt
        t
        for t in dag["on_failure"]
        if t.startswith("dbt_rebuild.") and dag["types"][t] != "EmptyOperator"
    ]
    assert dbt_builds
    assert set(dbt_builds) <= set(dag["on_success"])


def test_every_task_has_an_execution_timeout(parsed: dict[str, Any]) -> None:
    settings = Settings()
    for dag_id, dag in parsed["dags"].items():
        others = {t: s for t, s in dag["timeout_s"].items() if t != "ingest"}
        if dag_id == "rebuild_views":  # restoring archived months has the archive's limit
            others = {t: s for t, s in others.items() if t != "restore_archive"}
            assert dag["timeout_s"]["restore_archive"] == ARCHIVE_TIMEOUT.total_seconds()
        if dag_id not in ("warehouse_audit", "raw_archive"):  # every row: a longer limit
            assert set(others.values()) == {settings.task_timeout_s}
    ingest = parsed["dags"]["cqrs_warehouse_pipeline"]["timeout_s"]["ingest"]
    assert ingest == settings.ingest_deadline_s + 120


def test_the_audit_runs_daily_and_alerts_on_failure(parsed: dict[str, Any]) -> None:
    dag = parsed["dags"]["warehouse_audit"]
    assert dag["schedule"] == "@daily"
    assert dag["catchup"] is False and dag["max_active_runs"] == 1
    assert list(dag["downstream"]) == ["audit"]
    assert dag["on_failure"] == {"audit": True}
    assert dag["timeout_s"]["audit"] == AUDIT_TIMEOUT.total_seconds()
    # A finding is bad data: retrying cannot help.
    assert dag["retry_decisions"] == {"database down": "retry", "bad data": "fail"}


def test_dag_files_build_no_settings_and_share_their_defaults() -> None:
    """Airflow parses the DAG files again and again: they wire tasks, and read nothing of the
    configuration but ``DagSettings`` through ``dag_arguments``."""
    for path in sorted((REPO_ROOT / "dags").glob("*.py")):
        tree = ast.parse(path.read_text())
        calls = {
            node.func.id
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        }
        assert "dag_arguments" in calls, path
        names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
        assert not names & {"Settings", "DagSettings", "pendulum", "retry_args"}, path
