"""The pipeline DAG's dbt build, through ``dbtRunner`` in a process of its own
(pipeline/dbt_runner.py): each node's outcome, failures named, a deadline of its own, and
none of the caller's secrets. The manual rebuild's Cosmos tasks (pipeline/dbt_launcher.py)
keep none either."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from psycopg import sql

from config.component_secrets import ADMIN_URL, role_password
from config.database_settings import DbRole
from config.settings import DBT_PROJECT_DIR, Settings
from database import connections
from database.names import WAREHOUSE_DATABASE
from pipeline.dbt import PROJECT_ARGS, DbtFailed, run_dbt
from pipeline.dbt_runner import DbtTimedOut, run_build
from pipeline.tasks.dbt import PROFILE, TARGET, execution_config
from stack.airflow import airflow_env
from tests.support.raw_events import ingest_events, stock_updated

T0 = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)


def test_a_build_reports_every_model_and_test(settings: Settings) -> None:
    report = run_build(settings, timeout_s=600).as_dict()

    assert report["model"]["model.cqrs_warehouse.products"] == "success"
    # The session's warehouse holds what earlier tests planted (quarantined events, say):
    # warn-severity tests may warn there, and a warning does not fail a build.
    assert report["test"] and set(report["test"].values()) <= {"pass", "warn"}
    assert "pass" in report["test"].values()
    assert not any("unit_test" in kind for kind in report)  # left to `make test`


def test_a_build_past_its_deadline_fails_saying_so(settings: Settings) -> None:
    with pytest.raises(DbtTimedOut, match="ran past its"):
        run_build(settings, timeout_s=0.01)


def test_a_failed_test_fails_the_build_naming_it(settings: Settings) -> None:
    product = f"sku-{uuid.uuid4().hex[:8]}"
    oversell = stock_updated(product, 2, -8, T0 + timedelta(hours=1))
    ingest_events(settings, [stock_updated(product, 1, 5, T0), oversell])
    try:
        with pytest.raises(DbtFailed) as failed:
            run_build(settings, timeout_s=600)
        assert "test test.cqrs_warehouse.not_negative_products_stock" in str(failed.value)
        assert "model model.cqrs_warehouse.products" not in str(failed.value)  # it was built
    finally:
        with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
            conn.execute(
                "delete from raw.stock_updated where event_id = %s", (oversell["event_id"],)
            )
            conn.commit()
        run_dbt(settings, "build", "--full-refresh", quiet=True)


# Other roles' secrets, as the environment of an Airflow task (the scheduler's) holds them.
TASK_SECRETS = {
    role_password(DbRole.PUBLISHER): "publisher-pw",
    role_password(DbRole.INGEST): "ingest-pw",
    ADMIN_URL: "postgresql://admin:admin-pw@127.0.0.1/postgres",
}
NOTHING_SEEN = ("absent",) * len(TASK_SECRETS)


@pytest.fixture
def env_probe() -> Iterator[str]:
    """A model that writes what ``env_var()`` gives it for each of TASK_SECRETS."""
    probe = f"env_probe_{uuid.uuid4().hex[:8]}"
    seen = ", ".join(
        f"'{{{{ env_var('{name}', 'absent') }}}}'::text as {name.lower()}" for name in TASK_SECRETS
    )
    model = DBT_PROJECT_DIR / "models" / f"{probe}.sql"
    model.write_text(f"{{{{ config(materialized='table') }}}}\nselect {seen}\n")
    try:
        yield probe
    finally:
        model.unlink()


def probed(settings: Settings, probe: str) -> tuple[str, ...] | None:
    """What the probe model saw; its table is dropped."""
    with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
        table = sql.Identifier("marts", probe)
        row = conn.execute(sql.SQL("select * from {}").format(table)).fetchone()
        conn.execute(sql.SQL("drop table {}").format(table))
        conn.commit()
    return row


def test_a_model_cannot_read_a_secret_of_the_task_that_runs_the_build(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, env_probe: str
) -> None:
    """The Airflow task holds other roles' passwords; a model's ``env_var()`` sees none."""
    for name, value in TASK_SECRETS.items():
        monkeypatch.setenv(name, value)  # as in the scheduler's environment
    run_build(settings, "--select", env_probe, timeout_s=600)
    assert probed(settings, env_probe) == NOTHING_SEEN


def test_a_model_run_by_the_rebuild_s_cosmos_tasks_cannot_read_the_task_s_secrets(
    settings: Settings, env_probe: str
) -> None:
    """Cosmos runs the configured executable as a subprocess with the task's whole environment
    (``append_env``) and its flags; dbt still sees none of the task's other secrets."""
    config = execution_config()
    assert str(config.invocation_mode) == "InvocationMode.SUBPROCESS"  # not dbtRunner in-task
    # The embedded server's admin URL is unset (the task would read a set one as its own).
    held = {k: v for k, v in TASK_SECRETS.items() if k != ADMIN_URL}
    task_env = {**airflow_env(settings), **held}  # what the stack's Airflow hands its tasks
    flags = ["--profile", PROFILE, "--target", TARGET]
    done = subprocess.run(
        [str(config.dbt_executable_path), "build", "--select", env_probe, *PROJECT_ARGS, *flags],
        env=task_env,
        cwd=DBT_PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert probed(settings, env_probe) == NOTHING_SEEN
