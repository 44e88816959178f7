"""Production refuses placeholder, public, short and low-entropy secrets, of every kind (no IO)."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from config.secret_checks import (
    DEV_JWT_SECRET,
    SecretKind,
    environment_problems,
    weakness,
)
from config.settings import ConfigurationError, load_settings
from cqrsw.container import main as container_main

STRONG = secrets.token_urlsafe(32)
PUBLIC_KEY = (
    ec.generate_private_key(ec.SECP256R1())
    .public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)
PROD: dict[str, Any] = {
    "env": "prod",
    "jwt_algorithm": "ES256",
    "jwt_public_key": PUBLIC_KEY,
    "jwt_issuer": "https://idp.internal",
    "jwt_audience": "cqrsw",
    "database_url": "postgresql://db.internal:5432/postgres?sslmode=verify-full",
    "kafka_bootstrap_servers": "kafka-1:9092",
}
# What the templates ship, and what people type when they do not read them.
WEAK = [
    "change-me",  # .env.example's PostgreSQL and Grafana passwords
    "change-me-orders",
    "CHANGE-ME",  # deploy/k8s/secret.template.yaml
    "change-me-to-at-least-32-random-characters",  # passed the old 32-byte check
    "CHANGE-ME-to-at-least-32-random-characters",
    DEV_JWT_SECRET,
    "short-Xy7",
    "a" * 64,
    "abababababababababababababababab",
    "",
]


@pytest.mark.parametrize("kind", [SecretKind.PASSWORD, SecretKind.SIGNING_KEY])
@pytest.mark.parametrize("value", WEAK)
def test_weak_passwords_and_signing_keys_are_refused(kind: SecretKind, value: str) -> None:
    assert weakness(value, kind) is not None


@pytest.mark.parametrize("kind", [SecretKind.PASSWORD, SecretKind.SIGNING_KEY])
def test_random_values_pass(kind: SecretKind) -> None:
    assert weakness(STRONG, kind) is None
    assert weakness(secrets.token_hex(32), kind) is None


def test_a_password_may_be_shorter_than_a_signing_key() -> None:
    twenty = secrets.token_urlsafe(15)  # 20 characters
    assert weakness(twenty, SecretKind.PASSWORD) is None
    assert weakness(twenty, SecretKind.SIGNING_KEY) == "must be at least 32 bytes"


@pytest.mark.parametrize(
    "value", ["", "change-me", STRONG[:40], "A" * 43 + "=", "not base64 at all!!!!"]
)
def test_fernet_keys_must_be_32_random_bytes_in_urlsafe_base64(value: str) -> None:
    assert weakness(value, SecretKind.FERNET_KEY) is not None
    assert weakness(Fernet.generate_key().decode(), SecretKind.FERNET_KEY) is None


def test_valid_prod_settings_load() -> None:
    settings = load_settings(_env_file=None, **PROD, pg_password_orders=STRONG)
    assert settings.env == "prod"


@pytest.mark.parametrize(
    ("field", "variable"),
    [
        ("pg_password_orders", "CQRSW_PG_PASSWORD_ORDERS"),
        ("pg_password_read_api", "CQRSW_PG_PASSWORD_READ_API"),
        ("airflow_admin_password", "CQRSW_AIRFLOW_ADMIN_PASSWORD"),
        ("jwt_secret", "CQRSW_JWT_SECRET"),
        ("read_token_key", "CQRSW_READ_TOKEN_KEY"),
    ],
)
@pytest.mark.parametrize("value", ["change-me-orders", "CHANGE-ME", DEV_JWT_SECRET, "x" * 40])
def test_prod_settings_refuse_each_weak_secret_naming_it_not_echoing_it(
    field: str, variable: str, value: str
) -> None:
    with pytest.raises(ConfigurationError) as refused:
        load_settings(_env_file=None, **PROD, **{field: value})
    assert variable in str(refused.value)
    assert value not in str(refused.value)


def test_prod_refuses_a_placeholder_in_the_admin_url() -> None:
    url = "postgresql://cqrsw:CHANGE-ME@postgres.example.internal:5432/postgres"
    with pytest.raises(ConfigurationError, match=r"CQRSW_DATABASE_URL \(its password\)"):
        load_settings(_env_file=None, **{**PROD, "database_url": url})


def test_dev_keeps_accepting_local_passwords() -> None:
    assert load_settings(_env_file=None, pg_password_orders="change-me").env == "dev"


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        ({"jwt_algorithm": "HS256", "jwt_secret": STRONG}, "CQRSW_JWT_ALGORITHM"),
        ({"jwt_issuer": None}, "CQRSW_JWT_ISSUER"),
        ({"jwt_audience": None}, "CQRSW_JWT_AUDIENCE"),
    ],
)
def test_prod_verifies_tokens_with_a_public_key_and_their_issuer_and_audience(
    overrides: dict[str, Any], variable: str
) -> None:
    with pytest.raises(ConfigurationError, match=variable):
        load_settings(_env_file=None, **{**PROD, **overrides})


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("AIRFLOW__API_AUTH__JWT_SECRET", "change-me-too"),
        ("AIRFLOW__API_AUTH__JWT_SECRET", "short"),
        ("AIRFLOW__CORE__FERNET_KEY", ""),
        ("AIRFLOW__CORE__FERNET_KEY", "change-me"),
        ("POSTGRES_PASSWORD", "change-me"),
        ("GF_SECURITY_ADMIN_PASSWORD", "change-me"),
        ("GF_SECURITY_ADMIN_PASSWORD", "admin"),
    ],
)
def test_secrets_of_other_programs_are_refused_when_weak(variable: str, value: str) -> None:
    problems = environment_problems({variable: value})
    assert len(problems) == 1
    assert problems[0].startswith(variable + ":")
    assert environment_problems({variable: _strong_for(variable)}) == []


def _strong_for(variable: str) -> str:
    return Fernet.generate_key().decode() if variable.endswith("FERNET_KEY") else STRONG


def test_airflow_in_prod_needs_its_jwt_secret_and_a_fernet_key() -> None:
    problems = environment_problems(
        {}, ("AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__CORE__FERNET_KEY")
    )
    assert [p.split(":")[0] for p in problems] == [
        "AIRFLOW__API_AUTH__JWT_SECRET",
        "AIRFLOW__CORE__FERNET_KEY",
    ]


@pytest.mark.parametrize("role", ["airflow", "orders", "check-secrets"])
def test_the_container_entrypoint_stops_on_a_weak_secret(
    role: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CQRSW_ENV", "prod")
    monkeypatch.setenv("GF_SECURITY_ADMIN_PASSWORD", "change-me")
    with pytest.raises(SystemExit) as stopped:
        container_main([role])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "GF_SECURITY_ADMIN_PASSWORD: looks like a placeholder" in err
    assert "change-me" not in err.replace("looks like a placeholder (contains 'changeme')", "")


def test_check_secrets_passes_strong_values(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POSTGRES_PASSWORD", STRONG)
    monkeypatch.setenv("GF_SECURITY_ADMIN_PASSWORD", secrets.token_urlsafe(24))
    assert container_main(["check-secrets"]) == 0
    assert "fit for production" in capsys.readouterr().out
