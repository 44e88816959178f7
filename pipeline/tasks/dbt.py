"""The dbt project as Airflow tasks: the pipeline's one ``dbt build`` task, and a Cosmos task
group (one task per model and its tests) for the manual rebuild.

Both run dbt in a process of its own with dbt's minimal environment (its role's connection,
nothing secret else): the build through ``pipeline.dbt_runner``, the Cosmos tasks through the
``cqrsw-dbt`` executable (``pipeline.dbt_launcher``) as a subprocess.

Cosmos renders from a manifest that ``dbt parse`` writes to a fixed build path (``make
manifest``, which ``make test`` runs first; ``prepare_airflow`` and the image refresh it), so
parsing the DAG files never runs dbt nor touches the database, and needs no running stack.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from airflow.sdk import get_current_context, task

from config.settings import DBT_PROJECT_DIR, Settings
from pipeline import steps as pipeline
from pipeline.dbt import PIPELINE_EXCLUDE, run_dbt
from pipeline.dbt_launcher import LAUNCHER
from pipeline.tasks.gate_and_publish import FIRST, run_of
from pipeline.tasks.spans import record_dbt_span

PROFILE = "cqrs_warehouse"
TARGET = "dev"

# Apart from target/ itself, which every other dbt command rewrites.
MANIFEST_PATH = DBT_PROJECT_DIR / "target" / "parsed" / "manifest.json"


def build_manifest(settings: Settings) -> Path:
    """``dbt parse`` into MANIFEST_PATH (no database work); return the manifest."""
    run_dbt(settings, "parse", "--target-path", str(MANIFEST_PATH.parent), quiet=True, offline=True)
    return MANIFEST_PATH


def dbt_build() -> Any:
    """The pipeline's ``dbt_build`` task, inside a DAG: one ``dbt build`` of the project (its
    models, their data tests, the sources' tests; dbt's unit tests are left to ``make test``)
    with dbt's threads, through ``dbtRunner`` in a process of its own (``pipeline.dbt_runner``).

    It fails naming every model and test that failed; past ``CQRSW_DBT_BUILD_TIMEOUT_S`` it
    fails saying so. Either way the run stops before publish. No retry: a build fails the
    same way twice, and the next run builds again. Its XCom lists each node's status.
    """

    @task(retries=0, priority_weight=FIRST, weight_rule="absolute")
    def dbt_build() -> dict[str, Any]:
        return pipeline.dbt_build_in_task(Settings(), run_of(get_current_context()))

    return dbt_build()


def execution_config() -> Any:
    """How the Cosmos tasks run dbt: ``cqrsw-dbt`` as a subprocess. Not ``dbtRunner`` in the
    task's process, whose environment holds other roles' passwords: a process that starts from
    the task's whole environment and keeps dbt's part."""
    from cosmos import ExecutionConfig, ExecutionMode, InvocationMode

    return ExecutionConfig(
        execution_mode=ExecutionMode.LOCAL,
        invocation_mode=InvocationMode.SUBPROCESS,
        dbt_executable_path=LAUNCHER,
    )


def dbt_task_group(
    group_id: str,
    *,
    full_refresh: bool | str = False,
    dbt_vars: dict[str, str] | None = None,
) -> Any:
    """A Cosmos ``DbtTaskGroup``: per model one task that builds it and runs its tests (``dbt
    build``), in the models' order, after a freshness check of the sources it reads.

    Each task runs ``cqrsw-dbt`` as a subprocess: dbt sees its own connection (with the
    project's statement and lock timeouts, ``PGOPTIONS``) and none of the task's other secrets.

    ``full_refresh`` and the values of ``dbt_vars`` may be Jinja templates (DAG params).
    """
    from cosmos import (
        DbtTaskGroup,
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
        execution_config=execution_config(),
        render_config=RenderConfig(
            load_method=LoadMode.DBT_MANIFEST,
            # Cosmos renders no unit tests (its manifest loader reads nodes, sources and
            # exposures only) but passes this on to every command that runs tests: the
            # rebuild leaves dbt's unit tests to `make test`.
            exclude=list(PIPELINE_EXCLUDE),
            test_behavior=TestBehavior.BUILD,
            # People consume the published views (pipeline.tasks.assets), not the marts.
            emit_datasets=False,
            source_rendering_behavior=SourceRenderingBehavior.WITH_TESTS_OR_FRESHNESS,
            # A test on two models (relationships) runs once both are built, in its own task.
            should_detach_multiple_parents_tests=True,
        ),
        operator_args={
            "full_refresh": full_refresh,
            "vars": dbt_vars or {},
            # The task's environment goes to cqrsw-dbt, which reads its settings there and
            # hands dbt only what dbt needs.
            "append_env": True,
            # Failures keep the DAG's default on_failure_callback (the alert).
            "on_success_callback": record_dbt_span,
        },
    )
