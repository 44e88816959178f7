"""The dbt project as Airflow tasks: the pipeline's one ``dbt build`` task, and a Cosmos task
group (one task per model and its tests) for the manual rebuild.

Cosmos renders from a manifest that ``dbt parse`` writes to a fixed build path (``make
manifest``, which ``make test`` runs first; ``prepare_airflow`` and the image refresh it), so
parsing the DAG files never runs dbt nor touches the database, and needs no running stack.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from airflow.sdk import get_current_context, task

from config.settings import DBT_PROJECT_DIR, Settings
from pipeline import steps as pipeline
from pipeline.dbt import PIPELINE_EXCLUDE, dbt_session_env, run_dbt
from pipeline.tasks.gate_and_publish import FIRST, run_of
from pipeline.tasks.spans import record_dbt_span

PROFILE = "cqrs_warehouse"
TARGET = "dev"
# The DAG macro that gives dbt's connections the statement and lock timeouts of the project's
# own (``PGOPTIONS``), computed when a task runs rather than when Airflow parses the DAG.
PGOPTIONS_MACRO = "dbt_pgoptions"

# Apart from target/ itself, which every other dbt command rewrites.
MANIFEST_PATH = DBT_PROJECT_DIR / "target" / "parsed" / "manifest.json"


def build_manifest(settings: Settings) -> Path:
    """``dbt parse`` into MANIFEST_PATH (no database work); return the manifest."""
    run_dbt(settings, "parse", "--target-path", str(MANIFEST_PATH.parent), quiet=True, offline=True)
    return MANIFEST_PATH


def dbt_pgoptions() -> str:
    """``PGOPTIONS`` for a dbt task, from the settings of the process that runs it."""
    return dbt_session_env(Settings()).get("PGOPTIONS", "")


def dbt_macros() -> dict[str, Any]:
    """``user_defined_macros`` of a DAG with a ``dbt_task_group``."""
    return {PGOPTIONS_MACRO: dbt_pgoptions}


def dbt_build() -> Any:
    """The pipeline's ``dbt_build`` task, inside a DAG: one ``dbt build`` of the project (its
    models, their data tests, the sources' tests; dbt's unit tests are left to ``make test``)
    with dbt's threads, through ``dbtRunner`` in the task's process.

    It fails naming every model and test that failed; past ``CQRSW_DBT_BUILD_TIMEOUT_S`` it
    fails saying so. Either way the run stops before publish. No retry: a build fails the
    same way twice, and the next run builds again. Its XCom lists each node's status.
    """

    @task(retries=0, priority_weight=FIRST, weight_rule="absolute")
    def dbt_build() -> dict[str, Any]:
        return pipeline.dbt_build_in_task(Settings(), run_of(get_current_context()))

    return dbt_build()


def dbt_task_group(
    group_id: str,
    *,
    full_refresh: bool | str = False,
    dbt_vars: dict[str, str] | None = None,
) -> Any:
    """A Cosmos ``DbtTaskGroup``: per model one task that builds it and runs its tests (``dbt
    build``), in the models' order, after a freshness check of the sources it reads. Its DAG
    takes ``dbt_macros()`` as ``user_defined_macros``.

    ``full_refresh`` and the values of ``dbt_vars`` may be Jinja templates (DAG params).
    """
    from cosmos import (
        DbtTaskGroup,
        ExecutionConfig,
        ExecutionMode,
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
            execution_mode=ExecutionMode.LOCAL,
            dbt_executable_path=Path(sys.executable).with_name("dbt"),
        ),
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
            # Appended to the worker's environment (a template: rendered when the task runs).
            "env": {"PGOPTIONS": "{{ " + PGOPTIONS_MACRO + "() }}"},
            # Failures keep the DAG's default on_failure_callback (the alert).
            "on_success_callback": record_dbt_span,
        },
    )
