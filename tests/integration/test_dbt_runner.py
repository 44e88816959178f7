"""The pipeline DAG's dbt build, through ``dbtRunner`` in a process of its own
(pipeline/dbt_runner.py): each node's outcome, failures named, a deadline of its own, and
none of the caller's secrets."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from psycopg import sql

from config.component_secrets import ADMIN_URL, role_password
from config.database_settings import DbRole
from config.settings import DBT_PROJECT_DIR, Settings
from database import connections
from database.names import WAREHOUSE_DATABASE
from pipeline.dbt import DbtFailed, run_dbt
from pipeline.dbt_runner import DbtTimedOut, run_build
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


def test_a_model_cannot_read_a_secret_of_the_task_that_runs_the_build(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Airflow task holds other roles' passwords; a model's ``env_var()`` sees none."""
    secrets = {role_password(DbRole.PUBLISHER): "publisher-pw", ADMIN_URL: "postgresql://x"}
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)  # as in the scheduler's environment
    probe = f"env_probe_{uuid.uuid4().hex[:8]}"
    seen = ", ".join(
        f"'{{{{ env_var('{name}', 'absent') }}}}'::text as {name.lower()}" for name in secrets
    )
    model = DBT_PROJECT_DIR / "models" / f"{probe}.sql"
    model.write_text(f"{{{{ config(materialized='table') }}}}\nselect {seen}\n")
    try:
        run_build(settings, "--select", probe, timeout_s=600)
        with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
            table = sql.Identifier("marts", probe)
            row = conn.execute(sql.SQL("select * from {}").format(table)).fetchone()
            conn.execute(sql.SQL("drop table {}").format(table))
            conn.commit()
    finally:
        model.unlink()
    assert row == ("absent", "absent")
