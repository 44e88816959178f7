"""Every DAG imports cleanly, with the tasks, order, schedule and outlets the pipeline promises.

No stack runs: Airflow parses the DAG files with a throwaway home, and Cosmos renders the dbt
tasks from the manifest `make manifest` builds (`dbt parse`, no database).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from config.database_settings import DbRole
from config.settings import Settings
from database.warehouse import MARTS
from pipeline.dbt import PIPELINE_EXCLUDE, dbt_session_env
from pipeline.tasks.audit import AUDIT_TIMEOUT
from pipeline.tasks.dbt import MANIFEST_PATH, WATCHER_POOL, build_manifest
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
        "pgoptions": {t.task_id: t.env.get("PGOPTIONS") for t in dag.tasks
                      if isinstance(getattr(t, "env", None), dict)},
        "retry_decisions": retry_decisions(dag.get_task(
            {"data_docs": "data_docs", "warehouse_audit": "audit"}.get(dag.dag_id, "validate_marts")
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
    result["expected_pgoptions"] = dbt_session_env(settings)["PGOPTIONS"]
    return result


def dbt_models(manifest_path: Path = MANIFEST_PATH) -> dict[str, str]:
    """The models in the manifest Cosmos renders, with their materialization."""
    manifest = json.loads(manifest_path.read_text())
    nodes = manifest["nodes"].values()
    return {n["name"]: n["config"]["materialized"] for n in nodes if n["resource_type"] == "model"}


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
    }
    assert all(dag["doc"] for dag in parsed["dags"].values())  # the docstring is the DAG doc


def test_pipeline_runs_ingest_dbt_gate_publish_freshness(parsed: dict[str, Any]) -> None:
    dag = parsed["dags"]["cqrs_warehouse_pipeline"]
    down, types = dag["downstream"], dag["types"]
    models = {m for m, materialized in dbt_models().items() if materialized != "ephemeral"}
    dbt_tasks = {t for t in down if t.startswith("dbt_build.")}
    # An ephemeral model is compiled into the marts' queries: Cosmos shows it, runs nothing.
    # (named `<model>_run`, or `<model>.run` in a group with its tests when it has some).
    ephemeral = set(dbt_models()) - models
    placeholders = {
        task
        for m in ephemeral
        for task in (f"dbt_build.{m}_run", f"dbt_build.{m}.run")
        if task in types
    }
    assert ephemeral and len(placeholders) == len(ephemeral)
    assert all(types[t] == "EmptyOperator" for t in placeholders)
    # One `dbt build` of the whole project, in one task: the only one that runs dbt.
    producer = "dbt_build.dbt_producer_watcher"
    assert [t for t, kind in types.items() if "Producer" in kind] == [producer]
    # Per model one task showing its build and its tests (a test on two models shows under
    # both). All of them only watch the producer.
    assert {f"dbt_build.{m}_run" for m in models} <= dbt_tasks
    # sources have no task: their tests run in the one dbt build (pipeline/tasks/dbt.py)
    assert not {t for t in dbt_tasks if t.endswith(".source")}
    watchers = dbt_tasks - {producer, f"{producer}_done"} - placeholders
    assert watchers == {f"dbt_build.{m}_run" for m in models}
    assert {types[t] for t in watchers} == {"ModelBuildWatcher"}
    tests = dag["watched_tests"]
    assert all(tests[f"dbt_build.{m.name}_run"] for m in MARTS)
    assert any("relationships_orders_with_invoices_invoice_id" in test
               for test in tests["dbt_build.orders_with_invoices_run"])  # fmt: skip
    # ... and the producer's one `dbt build` runs those tests: no `--resource-type` narrowing
    assert "--resource-type" not in dag["dbt_cmd_flags"][producer]
    # ingest is a short-circuit that skips everything after it when nothing is new
    assert types["ingest"] == "_ShortCircuitDecoratedOperator"
    assert dbt_tasks <= reachable(down, "ingest")
    # the watchers show the build's results after it, all at once, each from the triggerer
    # (no worker process); the gate waits for the build itself
    assert {t: dag["upstream"][t] for t in watchers} == {t: [producer] for t in watchers}
    trigger = "pipeline.tasks.model_watcher.ModelBuildTrigger"
    assert {t: dag["from_trigger"][t][0] for t in watchers} == {t: trigger for t in watchers}
    assert dag["from_trigger"]["dbt_build.orders_with_invoices_run"][1] == {
        "model_unique_id": "model.cqrs_warehouse.orders_with_invoices",
        "test_unique_ids": tests["dbt_build.orders_with_invoices_run"],
        "producer_task_id": producer,
    }
    # they wait in a pool of their own, behind the gate and what follows it in the queue
    assert {dag["pool"][t] for t in watchers} == {WATCHER_POOL}
    assert dag["pool"][producer] == dag["pool"]["validate_marts"] == "default_pool"
    first = ("validate_raw", "validate_marts", "publish")
    assert {dag["priority"][t][1] for t in (*first, *watchers)} == {"absolute"}
    assert min(dag["priority"][t][0] for t in first) > max(dag["priority"][t][0] for t in watchers)
    # the marts' part of the gate waits for the build; the raw tables' part runs beside it
    assert "validate_marts" in down[producer]
    assert sorted(down["ingest"]) == ["dbt_build.dbt_producer_watcher", "validate_raw"]
    assert dag["retries"][producer] == 0
    # dbt's connections bound their statements and lock waits as the project's own do
    assert dag["pgoptions"][producer] == parsed["expected_pgoptions"]
    # the one dbt build leaves dbt's unit tests (logic, not data) to `make test`, and the
    # tests of whole histories to the daily audit
    assert dag["exclude"][producer] == " ".join(PIPELINE_EXCLUDE)
    watched = [test for tests in dag["watched_tests"].values() for test in tests]
    assert watched and not any("equals_signed_sum_of_log" in test for test in watched)
    # dbt in a subprocess: its results go to XCom while it runs, not from inside its threads
    assert dag["invocation"][producer] == "InvocationMode.SUBPROCESS"
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
    assert (down["validate_raw"], down["validate_marts"], down["publish"]) == (
        ["publish"],
        ["publish"],
        [],
    )
    assert dag["outlets"] == {"publish": SERVING}


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
    for name in ("cqrs_warehouse_pipeline", "rebuild_views"):
        dag = parsed["dags"][name]
        dbt_builds = [  # Cosmos's "<producer>_done" marker and ephemeral models run no dbt
            t
            for t in dag["on_failure"]
            if t.startswith(("dbt_build.", "dbt_rebuild."))
            and not t.endswith("_done")
            and dag["types"][t] != "EmptyOperator"
        ]
        assert dbt_builds
        assert set(dbt_builds) <= set(dag["on_success"])


def test_every_task_has_an_execution_timeout(parsed: dict[str, Any]) -> None:
    settings = Settings()
    for dag_id, dag in parsed["dags"].items():
        others = {t: s for t, s in dag["timeout_s"].items() if t != "ingest"}
        if dag_id != "warehouse_audit":  # reads every row: its own, longer limit
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
