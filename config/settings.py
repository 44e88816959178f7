"""All configuration, read from the environment with the prefix ``CQRSW_``."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import SettingsConfigDict

from config.dag_settings import DagSettings
from config.database_settings import REPO_ROOT as REPO_ROOT
from config.database_settings import DatabaseSettings

DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
# Published in the repo on purpose: it signs only tokens for a dev stack on embedded engines.
DEV_JWT_SECRET = "dev-secret-change-me-0123456789abcdef"
MIN_PROD_SECRET_BYTES = 32


class Settings(DatabaseSettings, DagSettings):
    """One settings model for every deployable; build it at start-up, not at import time.

    The DAG files build only its ``DagSettings`` part when Airflow parses them."""

    model_config = SettingsConfigDict(env_prefix="CQRSW_", env_file=".env", extra="ignore")

    # External broker. Unset means: use the embedded one that `cqrsw stack up` starts.
    kafka_bootstrap_servers: str | None = Field(
        default=None, description="Comma-separated host:port list of a Kafka cluster."
    )

    kafka_port: int = Field(default=19092, ge=1, le=65535)
    topic_partitions: int = Field(default=3, ge=1, le=64)
    topic_replication_factor: int = Field(
        default=1,
        ge=1,
        le=16,
        description="Copies of each topic `stack up` / `init` creates; 3 on a real cluster.",
    )

    orders_port: int = Field(default=8001, ge=1, le=65535)
    invoices_port: int = Field(default=8002, ge=1, le=65535)
    stock_port: int = Field(default=8003, ge=1, le=65535)
    read_api_port: int = Field(default=8000, ge=1, le=65535)
    gateway_port: int = Field(
        default=8090, ge=1, le=65535, description="nginx API gateway in front of the services."
    )

    env: Literal["dev", "prod"] = "dev"
    jwt_algorithm: Literal["HS256", "RS256"] = "HS256"
    jwt_secret: SecretStr | None = None
    jwt_public_key: str | None = Field(default=None, description="PEM public key for RS256.")
    jwt_jwks_file: Path | None = Field(
        default=None, description="JWKS file (JSON) whose keys verify RS256 tokens by `kid`."
    )
    jwt_issuer: str | None = Field(default=None, description="Required `iss` claim, when set.")
    jwt_audience: str | None = Field(default=None, description="Required `aud` claim, when set.")
    jwt_leeway_s: int = Field(
        default=30, ge=0, le=300, description="Clock skew allowed on `exp`, `iat` and `nbf`."
    )
    jwt_max_lifetime_s: int = Field(
        default=86_400, ge=60, le=2_592_000, description="Longest `exp - iat` accepted."
    )
    jwt_roles_claim: str = Field(
        default="roles",
        pattern=r"^[A-Za-z0-9_:/.-]{1,100}$",
        description="Claim holding the caller's roles (a list of strings).",
    )
    max_body_bytes: int = Field(
        default=65_536, ge=1_024, le=10_485_760, description="Largest request body accepted."
    )

    read_cache_mb: int = Field(
        default=64, ge=0, le=65_536, description="Read API answers kept per process; 0: none."
    )
    snapshot_every: int = Field(
        default=100, ge=1, le=1_000_000, description="Stock snapshot every N operations."
    )
    relay_enabled: bool = Field(
        default=True, description="Run the outbox relay inside each write service."
    )
    relay_interval_s: float = Field(default=0.5, gt=0)
    invoice_url_base: str = "https://invoices.example.com/"

    # Airflow (the orchestrator of the warehouse pipeline)
    airflow_port: int = Field(default=8080, ge=1, le=65535, description="Airflow UI and API.")
    airflow_admin_password: SecretStr | None = Field(
        default=None, description="Password of the Airflow UI user `admin`; `admin` in dev."
    )
    pipeline_idle_wait_s: float = Field(
        default=60, ge=0, le=3600,
        description="How long a continuous run waits for new events before ending empty.",
    )  # fmt: skip
    pipeline_poll_s: float = Field(
        default=1, gt=0, le=60, description="How often a waiting run looks for new events."
    )
    dbt_threads: int | None = Field(
        default=None, ge=1, le=64, description="dbt threads; unset: one per CPU core."
    )

    # Observability
    otel_exporter: Literal["none", "console", "otlp-http", "otlp-grpc"] = Field(
        default="none",
        description="Where spans go; `none` records nothing and never touches the network.",
    )
    metrics_port: int = Field(
        default=9108, ge=1, le=65535, description="Pipeline exporter (`cqrsw metrics serve`)."
    )
    prometheus_port: int = Field(
        default=19090, ge=1, le=65535, description="Prometheus that `make up` starts."
    )
    otel_endpoint: str | None = Field(
        default=None,
        description="OTLP endpoint; default http://localhost:4318/v1/traces (HTTP) or"
        " localhost:4317 (gRPC).",
    )

    @model_validator(mode="after")
    def _secrets_outside_dev(self) -> Settings:
        if self.jwt_algorithm == "RS256":
            if not self.jwt_public_key and self.jwt_jwks_file is None:
                raise ValueError(
                    "CQRSW_JWT_PUBLIC_KEY or CQRSW_JWT_JWKS_FILE is required when"
                    " CQRSW_JWT_ALGORITHM=RS256"
                )
            return self
        if self.jwt_secret is None:
            if not self.dev_secret_allowed:
                raise ValueError(
                    "CQRSW_JWT_SECRET is required when CQRSW_ENV=prod or an external database"
                    " or broker is configured (the dev secret is public)"
                )
            return self
        secret = self.jwt_secret.get_secret_value().encode()
        if not secret.strip():
            raise ValueError("CQRSW_JWT_SECRET must not be empty")
        if self.env == "prod" and len(secret) < MIN_PROD_SECRET_BYTES:
            raise ValueError(
                f"CQRSW_JWT_SECRET must be at least {MIN_PROD_SECRET_BYTES} bytes when"
                " CQRSW_ENV=prod"
            )
        return self

    @property
    def dev_secret_allowed(self) -> bool:
        """The public dev secret only signs tokens for a dev stack on embedded engines."""
        return self.env == "dev" and self.embedded_postgres and self.embedded_kafka

    @property
    def embedded_kafka(self) -> bool:
        return self.kafka_bootstrap_servers is None

    @property
    def jwt_hs256_secret(self) -> str:
        """The HS256 secret: the configured one, or the public dev secret where allowed."""
        if self.jwt_secret is not None:
            return self.jwt_secret.get_secret_value()
        return DEV_JWT_SECRET

    @property
    def bootstrap_servers(self) -> list[str]:
        if self.kafka_bootstrap_servers:
            return [s.strip() for s in self.kafka_bootstrap_servers.split(",") if s.strip()]
        return [f"127.0.0.1:{self.kafka_port}"]

    def as_env(self) -> dict[str, str]:
        """These settings as ``CQRSW_*`` variables, for the processes this one starts."""
        env = {}
        for name, value in self.model_dump(exclude_none=True).items():
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            env[f"CQRSW_{name.upper()}"] = str(value)
        return env


class ConfigurationError(ValueError):
    """Settings that cannot be used; the message is one line naming the variables."""


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment, or a ConfigurationError naming each bad variable.

    The message never repeats a value: a database URL or a secret must not reach a log.
    """
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigurationError(describe_errors(exc)) from None


def describe_errors(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors(include_input=False, include_url=False, include_context=False):
        field = error["loc"][0] if error["loc"] else None
        where = f"CQRSW_{str(field).upper()}: " if field is not None else ""
        problems.append(where + error["msg"].removeprefix("Value error, "))
    return "configuration error: " + "; ".join(problems)


def settings_or_exit() -> Settings:
    """For process entry points: one line on stderr and exit status 2 on bad settings."""
    try:
        return load_settings()
    except ConfigurationError as exc:
        import sys

        print(exc, file=sys.stderr)
        raise SystemExit(2) from None
