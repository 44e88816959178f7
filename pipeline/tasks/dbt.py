"""The dbt project as Airflow tasks: Cosmos renders one task per model with its tests.

Cosmos renders from a manifest that ``prepare_airflow`` writes with ``dbt parse``, so parsing
the DAG files never runs dbt nor touches the database.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from config.settings import DBT_PROJECT_DIR, Settings
from pipeline.dbt import run_dbt
from pipeline.tasks.spans import record_dbt_span

PROFILE = "cqrs_warehouse"
TARGET = "dev"


def manifest_path(settings: Settings) -> Path:
    return settings.state_dir / "airflow" / "dbt" / "manifest.json"


def build_manifest(settings: Settings) -> Path:
    """``dbt parse`` into the state directory (no database work); return the manifest."""
    path = manifest_path(settings)
    run_dbt(settings, "parse", "--target-path", str(path.parent), quiet=True)
    return path


def dbt_task_group(
    settings: Settings,
    group_id: str,
    *,
    full_refresh: bool | str = False,
    dbt_vars: dict[str, str] | None = None,
) -> Any:
    """A ``DbtTaskGroup``: per model one task that builds it and runs its tests (``dbt build``),
    in the models' order, after a freshness check of the sources it reads.

    ``full_refresh`` and the values of ``dbt_vars`` may be Jinja templates (DAG params).
    """
    from cosmos import (
        DbtTaskGroup,
        ExecutionConfig,
        LoadMode,
        ProfileConfig,
        ProjectConfig,
        RenderConfig,
        SourceRenderingBehavior,
        TestBehavior,
    )

    manifest = manifest_path(settings)
    if not manifest.exists():
        raise FileNotFoundError(
            f"dbt manifest {manifest} is missing: `cqrsw stack up --airflow` (make up) writes it"
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
        execution_config=ExecutionConfig(dbt_executable_path=Path(sys.executable).with_name("dbt")),
        render_config=RenderConfig(
            load_method=LoadMode.DBT_MANIFEST,
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
            # Failures keep the DAG's default on_failure_callback (the alert).
            "on_success_callback": record_dbt_span,
        },
    )
