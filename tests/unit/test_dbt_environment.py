"""dbt runs with its own connection and no other secret, so ``env_var()`` cannot leak one."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from config.database_settings import DbRole
from config.settings import Settings
from pipeline.dbt import dbt_process_env

OTHER_SECRETS = {
    "CQRSW_PG_PASSWORD_PUBLISHER": secrets.token_urlsafe(24),
    "CQRSW_PG_PASSWORD_READ_API": secrets.token_urlsafe(24),
    "CQRSW_DATABASE_URL": "postgresql://cqrsw:admin-secret-pw@db.internal/postgres",
    "CQRSW_JWT_SECRET": secrets.token_urlsafe(32),
    "AIRFLOW__CORE__FERNET_KEY": secrets.token_urlsafe(32),
    "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
}


@pytest.mark.parametrize("offline", [False, True])
def test_dbt_holds_the_dbt_roles_password_and_no_other_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, offline: bool
) -> None:
    for name, value in OTHER_SECRETS.items():
        monkeypatch.setenv(name, value)
    dbt_password = secrets.token_urlsafe(24)
    settings = Settings(
        database_url=OTHER_SECRETS["CQRSW_DATABASE_URL"],
        kafka_bootstrap_servers="kafka-1:9092",
        jwt_secret=OTHER_SECRETS["CQRSW_JWT_SECRET"],
        pg_password_dbt=dbt_password,
        pg_password_publisher=OTHER_SECRETS["CQRSW_PG_PASSWORD_PUBLISHER"],
        state_dir=tmp_path,
    )
    env = dbt_process_env(settings, offline=offline)
    leaked = [
        name for name, value in OTHER_SECRETS.items() if any(value in v for v in env.values())
    ]
    assert leaked == []
    assert "admin-secret-pw" not in "".join(env.values())
    if offline:
        assert "CQRSW_DBT_PASSWORD" not in env
    else:
        assert env["CQRSW_DBT_PASSWORD"] == dbt_password
        assert env["CQRSW_DBT_USER"] == DbRole.DBT.login
    assert env["PATH"]  # dbt still finds its programs
