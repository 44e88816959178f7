"""TLS to PostgreSQL is kept by every component: libpq, SQLAlchemy (Airflow, GX) and dbt (no IO)."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import jinja2
import pytest
import yaml
from psycopg.conninfo import conninfo_to_dict
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from config.database_settings import DbRole
from config.settings import DBT_PROJECT_DIR, Settings
from database import connections
from database.names import AIRFLOW_DATABASE, WAREHOUSE_DATABASE
from pipeline.dbt import dbt_process_env
from stack.airflow import airflow_env

TLS = {
    "sslmode": "verify-full",
    "sslrootcert": "/etc/cqrsw/tls/ca.pem",
    "sslcert": "/etc/cqrsw/tls/client.pem",
    "sslkey": "/etc/cqrsw/tls/client.key",
}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    query = "&".join(f"{k}={v}" for k, v in TLS.items())
    passwords: dict[str, Any] = {
        f"pg_password_{role.value}": secrets.token_urlsafe(24) for role in DbRole
    }
    return Settings(
        database_url=f"postgresql://admin:pw@db.internal:5432/postgres?{query}",
        kafka_bootstrap_servers="kafka-1:9092",
        jwt_secret=secrets.token_urlsafe(32),
        state_dir=tmp_path,
        **passwords,
    )


def psycopg_kwargs_of(url: str) -> dict[str, Any]:
    """What SQLAlchemy's psycopg dialect hands to ``psycopg.connect`` for this URL."""
    engine = create_engine(url)
    _, kwargs = engine.dialect.create_connect_args(make_url(url))
    return dict(kwargs)


@pytest.mark.parametrize("role", [None, *DbRole])
def test_every_roles_libpq_connection_keeps_tls(settings: Settings, role: DbRole | None) -> None:
    params = conninfo_to_dict(settings.dsn(WAREHOUSE_DATABASE, role))
    assert {k: params.get(k) for k in TLS} == TLS


def test_airflows_metadata_connection_keeps_tls(settings: Settings) -> None:
    env = airflow_env(settings)
    for variable in (
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC",
    ):
        kwargs = psycopg_kwargs_of(env[variable])
        assert {k: kwargs.get(k) for k in TLS} == TLS, variable
        assert kwargs["user"] == DbRole.AIRFLOW.login


def test_the_great_expectations_gate_connection_keeps_tls(settings: Settings) -> None:
    # quality.data_docs.open_context gives GX exactly this URL.
    url = connections.sqlalchemy_url(settings, WAREHOUSE_DATABASE, DbRole.PUBLISHER)
    kwargs = psycopg_kwargs_of(url)
    assert {k: kwargs.get(k) for k in TLS} == TLS
    assert kwargs["dbname"] == WAREHOUSE_DATABASE


def test_dbts_profile_keeps_tls(settings: Settings) -> None:
    env = dbt_process_env(settings)
    template = (DBT_PROJECT_DIR / "profiles.yml").read_text()
    # dbt renders profiles.yml with Jinja: env_var() and the as_number filter, as here.
    jinja = jinja2.Environment(autoescape=False)
    jinja.filters["as_number"] = lambda value: value
    text = jinja.from_string(template).render(env_var=lambda k, default=None: env.get(k, default))
    rendered = yaml.safe_load(text)
    output = rendered["cqrs_warehouse"]["outputs"]["dev"]
    assert {k: output[k] for k in TLS} == TLS
    assert (output["user"], output["host"]) == (DbRole.DBT.login, "db.internal")


def test_without_tls_parameters_no_component_asks_for_them(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path, pg_password_airflow="pw", pg_password_dbt="pw")
    assert "sslmode" not in connections.sqlalchemy_url(settings, AIRFLOW_DATABASE, DbRole.AIRFLOW)
    assert not any(k.startswith("CQRSW_DBT_SSL") for k in dbt_process_env(settings))
