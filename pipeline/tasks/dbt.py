"""The dbt project as Airflow tasks: Cosmos renders one task per model with its tests.

Cosmos renders from a manifest that ``dbt parse`` writes to a fixed build path (``make
manifest``, which ``make test`` runs first; ``prepare_airflow`` and the image refresh it), so
parsing the DAG files never runs dbt nor touches the database, and needs no running stack.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from config.settings import DBT_PROJECT_DIR, Settings
from pipeline.dbt import AUDIT_TAG, PIPELINE_EXCLUDE, dbt_session_env, run_dbt
from pipeline.tasks.spans import record_dbt_span

PROFILE = "cqrs_warehouse"
TARGET = "dev"
# The watching tasks start after the producer (watched_dbt_build): a node's result is there
# at the first look or never, so one that dbt did not report is skipped after a few seconds
# instead of holding the run (and the next one) for the sensor's default of a week; the
# trigger that ends them in the triggerer (model_watcher.py) gives up after as long.
REPORT_WAIT_S = 5
WATCHING = {"deferrable": False, "poke_interval": 1, "timeout": REPORT_WAIT_S, "soft_fail": True}
PRODUCER = "dbt_producer_watcher"  # Cosmos's task that runs the one dbt build
# The model tasks (one per model) start together when the producer ends and end in the
# triggerer (model_watcher.py). The few that take a worker (a failed model or test, a
# rebuild after a clear, `airflow dags test`) share a pool of their own (stack/airflow.py makes it)
# and are niced: the gate's marts part and publish, beside them, keep a slot each and most
# of the CPU.
WATCHER_POOL = "dbt_watchers"
WATCHER_POOL_SLOTS = 3


# Apart from target/ itself, which every other dbt command rewrites.
MANIFEST_PATH = DBT_PROJECT_DIR / "target" / "parsed" / "manifest.json"


def build_manifest(settings: Settings) -> Path:
    """``dbt parse`` into MANIFEST_PATH (no database work); return the manifest."""
    run_dbt(settings, "parse", "--target-path", str(MANIFEST_PATH.parent), quiet=True, offline=True)
    return MANIFEST_PATH


def audit_tests(manifest: Path = MANIFEST_PATH) -> frozenset[str]:
    """The data tests the pipeline's builds leave to the daily audit (``AUDIT_TAG``)."""
    nodes = json.loads(manifest.read_text())["nodes"].values()
    return frozenset(
        node["unique_id"]
        for node in nodes
        if node["resource_type"] == "test" and AUDIT_TAG in node.get("tags", [])
    )


def dbt_task_group(
    settings: Settings,
    group_id: str,
    *,
    full_refresh: bool | str = False,
    dbt_vars: dict[str, str] | None = None,
    watcher: bool = False,
) -> Any:
    """A ``DbtTaskGroup``: per model one task that builds it and runs its tests (``dbt build``),
    in the models' order, after a freshness check of the sources it reads.

    With ``watcher``, one ``dbt build`` of the whole project runs in the group's
    ``dbt_producer_watcher`` task (dbt's threads build independent models at once) and each
    model's task only watches for its result: the grid keeps a task per model and its tests,
    a run pays dbt's start-up and parse once (docs/adr/event-driven-runs.md). Use it through
    ``watched_dbt_build``, which orders the tasks so that they cannot wait on each other.

    ``full_refresh`` and the values of ``dbt_vars`` may be Jinja templates (DAG params).
    """
    from cosmos import (
        DbtTaskGroup,
        ExecutionConfig,
        ExecutionMode,
        InvocationMode,
        LoadMode,
        ProfileConfig,
        ProjectConfig,
        RenderConfig,
        SourceRenderingBehavior,
        TestBehavior,
    )

    manifest = MANIFEST_PATH
    if not manifest.exists():
        raise FileNotFoundError(
            f"dbt manifest {manifest} is missing: `make manifest` (or `make up`) writes it"
        )
    return DbtTaskGroup(
        group_id=group_id,
        project_config=ProjectConfig(
            dbt_project_path=DBT_PROJECT_DIR,
            manifest_path=manifest,
            install_dbt_deps=False,  # no packages: the hub is out of reach
        ),
        profile_config=ProfileConfig(
            profile_name=PROFILE,
            target_name=TARGET,
            profiles_yml_filepath=DBT_PROJECT_DIR / "profiles.yml",
        ),
        execution_config=ExecutionConfig(
            execution_mode=ExecutionMode.WATCHER if watcher else ExecutionMode.LOCAL,
            # In-process (dbtRunner) the producer pushes each node's result to XCom from dbt's
            # own event callback, two API calls per node under a lock that dbt's threads wait
            # for; a subprocess keeps dbt running while the task reads its log.
            invocation_mode=InvocationMode.SUBPROCESS if watcher else None,
            dbt_executable_path=Path(sys.executable).with_name("dbt"),
        ),
        render_config=RenderConfig(
            load_method=LoadMode.DBT_MANIFEST,
            # Cosmos renders no unit tests (its manifest loader reads nodes, sources and
            # exposures only) but passes this on as the watcher producer's `--exclude` and to
            # every command that runs tests: the runs leave dbt's unit tests to `make test`.
            exclude=list(PIPELINE_EXCLUDE),
            # The watcher has no per-node `dbt build` task in Cosmos 1.15: it renders the
            # models alone, and watched_dbt_build makes each model's task wait for its tests
            # too (pipeline/tasks/model_watcher.py), one task where AFTER_EACH takes two.
            test_behavior=TestBehavior.NONE if watcher else TestBehavior.BUILD,
            # People consume the published views (pipeline.tasks.assets), not the marts.
            emit_datasets=False,
            # In the watcher a source task waits for a freshness result that a source without
            # freshness never gets; the one dbt build runs the source tests all the same.
            source_rendering_behavior=(
                SourceRenderingBehavior.NONE
                if watcher
                else SourceRenderingBehavior.WITH_TESTS_OR_FRESHNESS
            ),
            # A test on two models (relationships) runs once both are built, in its own task.
            # The watcher's producer never reports a detached test (its task would wait in
            # vain): there a test on two models shows under one of them.
            should_detach_multiple_parents_tests=not watcher,
        ),
        operator_args={
            "full_refresh": full_refresh,
            "vars": dbt_vars or {},
            # Appended to the worker's environment: dbt's connections get the timeouts too.
            "env": dbt_session_env(settings),
            # Failures keep the DAG's default on_failure_callback (the alert).
            "on_success_callback": record_dbt_span,
            **(WATCHING if watcher else {}),
        },
    )


def watched_dbt_build(settings: Settings, group_id: str) -> tuple[Any, Any]:
    """The watcher ``DbtTaskGroup`` with its producer first; returns (group, producer).

    Cosmos starts the watching tasks beside the producer. Here they would wait for it in
    every worker slot (LocalExecutor, four) or, run one at a time (``airflow dags test``),
    before it: a deadlock either way, seen in the e2e test. So every watching task runs after
    the producer and finds its node's result at its first look; what follows the group
    (the gate) waits for the producer only, so the watchers cost the run no time. The
    producer never retries: Cosmos would skip a second attempt, and a skipped build must not
    let the gate pass on marts that were not built. The watching tasks share WATCHER_POOL.
    """
    # Both import Cosmos, as the group does.
    from pipeline.tasks.forked_dbt import ForkingDbtProducer
    from pipeline.tasks.model_watcher import watch_builds

    group = dbt_task_group(settings, group_id, watcher=True)
    tasks = list(group.iter_tasks())
    producer = next(t for t in tasks if t.task_id == f"{group_id}.{PRODUCER}")
    producer.__class__ = ForkingDbtProducer
    producer.retries = 0
    watch_builds(producer, tasks, unbuilt=audit_tests())
    by_id = {t.task_id: t for t in tasks}
    for task in tasks:
        if task is producer:
            continue
        task.pool = WATCHER_POOL
        # Every result is in XCom once the producer ended: a task that waited for its
        # upstream model's task would only add the triggerer's round trip (about 3 s) per
        # level of the project to the run.
        for upstream in task.upstream_task_ids & by_id.keys() - {producer.task_id}:
            task.upstream_task_ids.discard(upstream)
            by_id[upstream].downstream_task_ids.discard(task.task_id)
        producer >> task
    return group, producer
