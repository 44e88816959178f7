"""Settings validation and JWT checks (no IO)."""

from __future__ import annotations

import time
from pathlib import Path

import jwt
import pytest
from psycopg.conninfo import conninfo_to_dict
from pydantic import ValidationError

from config.database_settings import DbRole, MissingPassword
from config.settings import Settings
from pipeline.dbt import dbt_env, dbt_session_env
from services.tokens import Principal, TokenVerifier, issue_token


def verify_token(settings: Settings, token: str) -> str:
    return TokenVerifier(settings).verify(token).subject


def test_embedded_dsn_points_at_loopback(tmp_path: Path) -> None:
    settings = Settings(pg_port=6543, state_dir=tmp_path)
    assert conninfo_to_dict(settings.dsn("orders")) == {
        "host": "127.0.0.1", "port": "6543", "user": "postgres", "dbname": "orders",
        "options": "-c statement_timeout=300000 -c lock_timeout=10000",
    }  # fmt: skip
    assert settings.embedded_postgres


def test_external_dsn_keeps_credentials_and_swaps_database() -> None:
    settings = Settings(
        database_url="postgresql://app:pw@db.internal:5433/ignored?sslmode=require",
        jwt_secret="s" * 40,
    )
    params = conninfo_to_dict(settings.dsn("warehouse"))
    assert params["dbname"] == "warehouse"
    assert (params["host"], params["port"], params["user"], params["password"]) == (
        "db.internal", "5433", "app", "pw",
    )  # fmt: skip
    assert params["sslmode"] == "require"


def test_dbt_gets_the_same_timeouts_and_the_urls_own_options_through_pgoptions() -> None:
    settings = Settings(
        database_url="postgresql://app:pw@db.internal/x?options=-c%20work_mem%3D64MB",
        jwt_secret="s" * 40,
        pg_statement_timeout_s=30,
        pg_lock_timeout_s=2.5,
        pg_password_dbt="dbt-pw",
    )
    assert dbt_session_env(settings) == {
        "PGOPTIONS": "-c work_mem=64MB -c statement_timeout=30000 -c lock_timeout=2500"
    }
    assert "PGOPTIONS" not in dbt_env(settings)  # Airflow's processes inherit dbt_env


def test_a_component_connects_as_its_role_with_the_password_from_the_state_dir(
    tmp_path: Path,
) -> None:
    settings = Settings(state_dir=tmp_path)
    with pytest.raises(MissingPassword, match="CQRSW_PG_PASSWORD_INGEST"):
        settings.dsn("warehouse", DbRole.INGEST)
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "ingest").write_text("from-file\n")
    (tmp_path / "secrets" / "postgres").write_text("admin-pw\n")
    params = conninfo_to_dict(settings.dsn("warehouse", DbRole.INGEST))
    assert (params["user"], params["password"]) == ("cqrsw_ingest", "from-file")
    assert conninfo_to_dict(settings.dsn("warehouse"))["password"] == "admin-pw"


def test_a_role_password_given_by_the_environment_wins_on_an_external_server(
    tmp_path: Path,
) -> None:
    settings = Settings(
        database_url="postgresql://admin:adminpw@db.internal:5433/postgres?sslmode=require",
        pg_password_read_api="given",
        pg_secrets_dir=tmp_path,
        jwt_secret="s" * 40,
    )
    params = conninfo_to_dict(settings.dsn("warehouse", DbRole.READ_API))
    assert (params["host"], params["port"], params["sslmode"]) == ("db.internal", "5433", "require")
    assert (params["user"], params["password"]) == ("cqrsw_read_api", "given")
    assert settings.secrets_dir == tmp_path


def test_an_external_stack_needs_a_jwt_secret() -> None:
    with pytest.raises(ValidationError, match="CQRSW_JWT_SECRET"):
        Settings(database_url="postgresql://db.internal/x")


def test_rs256_needs_a_public_key() -> None:
    with pytest.raises(ValidationError, match="CQRSW_JWT_PUBLIC_KEY"):
        Settings(jwt_algorithm="RS256")


def test_kafka_bootstrap_list() -> None:
    assert Settings(
        kafka_bootstrap_servers="a:9092, b:9092", jwt_secret="s" * 40
    ).bootstrap_servers == [
        "a:9092",
        "b:9092",
    ]
    assert Settings(kafka_port=1234).bootstrap_servers == ["127.0.0.1:1234"]


def test_token_round_trip() -> None:
    settings = Settings(jwt_secret="s" * 40)
    assert verify_token(settings, issue_token(settings, "alice")) == "alice"


def test_expired_token_is_refused() -> None:
    settings = Settings(jwt_secret="s" * 40)
    now = int(time.time())  # expired 31 s ago: past the default leeway of 30 s
    token = jwt.encode({"sub": "alice", "iat": now - 100, "exp": now - 31}, "s" * 40)
    with pytest.raises(jwt.ExpiredSignatureError):
        verify_token(settings, token)


def test_tampered_token_is_refused() -> None:
    settings = Settings(jwt_secret="s" * 40)
    token = issue_token(Settings(jwt_secret="t" * 40), "alice")
    with pytest.raises(jwt.InvalidSignatureError):
        verify_token(settings, token)


def test_rs256_tokens_are_checked_with_the_public_key() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    settings = Settings(jwt_algorithm="RS256", jwt_public_key=public_pem)
    now = int(time.time())
    claims = {"sub": "ivy", "iat": now, "exp": now + 60}
    token = jwt.encode(claims, key, algorithm="RS256")
    assert verify_token(settings, token) == "ivy"
    forged = jwt.encode(claims, "x" * 40, algorithm="HS256")
    with pytest.raises(jwt.InvalidAlgorithmError):
        verify_token(settings, forged)


def test_token_round_trip_carries_roles() -> None:
    settings = Settings(jwt_secret="s" * 40)
    token = issue_token(settings, "bill", roles=["billing", "customer"])
    assert TokenVerifier(settings).verify(token) == Principal(
        "bill", frozenset({"billing", "customer"})
    )


def test_settings_survive_the_trip_through_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    original = Settings(
        pg_port=6000, relay_enabled=False, jwt_secret="q" * 40, kafka_bootstrap_servers="k:1"
    )
    for name, value in original.as_env().items():
        monkeypatch.setenv(name, value)
    assert Settings() == original
