"""All configuration, read from the environment with the prefix ``CQRSW_``."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import SettingsConfigDict

from config.dag_settings import DagSettings
from config.database_settings import REPO_ROOT as REPO_ROOT
from config.database_settings import DatabaseSettings, DbRole
from config.event_key_settings import EventKeySettings
from config.kafka_settings import KafkaSecuritySettings
from config.secret_checks import DEV_JWT_SECRET as DEV_JWT_SECRET
from config.secret_checks import SecretKind, weakness

DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
MIN_PROD_SECRET_BYTES = SecretKind.SIGNING_KEY.min_length


class Settings(DatabaseSettings, KafkaSecuritySettings, EventKeySettings, DagSettings):
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
    service_concurrency_limit: int = Field(
        default=512,
        ge=1,
        le=100_000,
        description="Connections and requests a service process takes at once (uvicorn's"
        " --limit-concurrency); past it: 503.",
    )
    gateway_token_rate: int = Field(
        default=50,
        ge=1,
        le=100_000,
        description="Requests a second the gateway lets through per bearer token (a burst of"
        " twice that is absorbed); past it: 429.",
    )
    gateway_address_rate: int = Field(
        default=100,
        ge=1,
        le=100_000,
        description="Requests a second the gateway lets through per client address; past it: 429.",
    )

    env: Literal["dev", "prod"] = "dev"
    jwt_algorithm: Literal["HS256", "RS256", "ES256"] = Field(
        default="HS256",
        description="HS256 (a shared secret) for the local dev stack; prod verifies tokens with"
        " a public key (RS256 or ES256): only the identity provider can sign them.",
    )
    jwt_secret: SecretStr | None = None
    jwt_public_key: str | None = Field(
        default=None, description="PEM public key for RS256 / ES256 (one key, no rotation)."
    )
    jwt_jwks_file: Path | None = Field(
        default=None, description="JWKS file (JSON) whose keys verify tokens by `kid`."
    )
    jwt_jwks_url: str | None = Field(
        default=None,
        pattern=r"^https://",
        description="JWKS URL of the identity provider (https://).",
    )
    jwt_jwks_refresh_s: int = Field(
        default=300,
        ge=10,
        le=86_400,
        description="How long JWKS keys are kept before the JWKS is read again; a token with a"
        " `kid` not in it makes it read again at once (key rotation).",
    )
    jwt_private_key_file: Path | None = Field(
        default=None,
        description="PEM private key that `cqrsw token` signs RS256 / ES256 tokens with; only"
        " the issuer holds it, never a service.",
    )
    jwt_key_id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_.-]{1,100}$",
        description="`kid` of the tokens `cqrsw token` signs with CQRSW_JWT_PRIVATE_KEY_FILE.",
    )
    jwt_issuer: str | None = Field(
        default=None, description="Required `iss` claim, when set; must be set in prod."
    )
    jwt_audience: str | None = Field(
        default=None, description="Required `aud` claim, when set; must be set in prod."
    )
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
    read_token_key: SecretStr | None = Field(
        default=None,
        description="Key (HMAC-SHA256) that signs position tokens and keyset cursors; the"
        " write services and the read API share it. Required when CQRSW_ENV=prod.",
    )
    raw_archive_dir: Path | None = Field(
        default=None,
        description="Where `cqrsw raw archive` keeps the Parquet files of archived raw months"
        " (lasting storage shared by whoever rebuilds the views); unset: <state_dir>/archive/raw.",
    )
    raw_keep_months: int = Field(
        default=3,
        ge=1,
        le=1200,
        description="Whole months of raw events kept in the warehouse besides this one; the"
        " `raw_archive` DAG archives older ones.",
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
    idempotency_window_s: float = Field(
        default=86_400,
        ge=60,
        le=30 * 86_400,
        description="How long an Idempotency-Key is kept: a retry within it gets the first"
        " answer; older keys are purged.",
    )
    idempotency_purge_every_s: float = Field(
        default=600, gt=0, le=86_400, description="How often write services purge old keys."
    )
    invoice_url_base: str = "https://invoices.example.com/"
    bff_reads: bool = Field(
        default=False,
        description="Serve /internal/bff/* (the reads of the BFF that docs/cqrs-vs-bff.md"
        " compares) from the orders and invoices services; only where such a BFF runs.",
    )

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
        " http://localhost:4317 (gRPC). https:// (or a gRPC endpoint without http://) uses TLS.",
    )
    otel_certificate_file: Path | None = Field(
        default=None,
        description="CA certificate (PEM) the OTLP endpoint's TLS certificate is checked"
        " against; unset: the system's CAs.",
    )

    @model_validator(mode="after")
    def _secrets_outside_dev(self) -> Settings:
        if self.env == "prod":
            self._check_prod()
        if self.jwt_algorithm != "HS256":
            if not (self.jwt_public_key or self.jwt_jwks_file or self.jwt_jwks_url):
                raise ValueError(
                    "CQRSW_JWT_JWKS_URL, CQRSW_JWT_JWKS_FILE or CQRSW_JWT_PUBLIC_KEY is required"
                    f" when CQRSW_JWT_ALGORITHM={self.jwt_algorithm}"
                )
            return self
        if self.jwt_secret is None:
            if not self.dev_secret_allowed:
                raise ValueError(
                    "CQRSW_JWT_SECRET is required when an external database or broker is"
                    " configured (the dev secret is public)"
                )
            return self
        if not self.jwt_secret.get_secret_value().strip():
            raise ValueError("CQRSW_JWT_SECRET must not be empty")
        return self

    def _check_prod(self) -> None:
        """Prod: tokens checked with a public key and their issuer, no weak or public secret."""
        if self.jwt_algorithm == "HS256":
            raise ValueError(
                "CQRSW_JWT_ALGORITHM must be RS256 or ES256 when CQRSW_ENV=prod (with"
                " CQRSW_JWT_JWKS_URL or CQRSW_JWT_JWKS_FILE): with HS256 every service that"
                " checks tokens could also sign them"
            )
        if self.jwt_issuer is None or self.jwt_audience is None:
            raise ValueError(
                "CQRSW_JWT_ISSUER and CQRSW_JWT_AUDIENCE are required when CQRSW_ENV=prod"
            )
        given = [(f"CQRSW_PG_PASSWORD_{r.value.upper()}", self.given_password(r)) for r in DbRole]
        given.append(("CQRSW_DATABASE_URL (its password)", self.admin_url_password))
        if self.airflow_admin_password is not None:
            admin = self.airflow_admin_password.get_secret_value()
            given.append(("CQRSW_AIRFLOW_ADMIN_PASSWORD", admin))
        problems = [
            f"{name} {why}"
            for name, value in given
            if value is not None and (why := weakness(value, SecretKind.PASSWORD)) is not None
        ]
        keys = [
            ("CQRSW_JWT_SECRET", self.jwt_secret),
            ("CQRSW_READ_TOKEN_KEY", self.read_token_key),
        ]
        for name, key in keys:
            if key is not None:
                why = weakness(key.get_secret_value(), SecretKind.SIGNING_KEY)
                if why is not None:
                    problems.append(f"{name} {why}")
        if problems:
            raise ValueError("; ".join(problems) + " (CQRSW_ENV=prod)")

    def kafka_client_options(self) -> dict[str, Any]:
        """The Kafka clients' arguments; in prod a weak SASL password (the file is read only
        when a client connects) is refused like every other secret."""
        options = super().kafka_client_options()
        password = options.get("sasl_plain_password")
        if self.env == "prod" and password is not None:
            why = weakness(password, SecretKind.PASSWORD)
            if why is not None:
                raise ConfigurationError(
                    f"configuration error: CQRSW_KAFKA_SASL_PASSWORD_FILE {why} (CQRSW_ENV=prod)"
                )
        return options

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
    def read_token_secret(self) -> bytes:
        """The read-token key: the configured one, or in dev one derived from the JWT secret."""
        if self.read_token_key is not None:
            key = self.read_token_key.get_secret_value().encode()
            if self.env == "prod" and len(key) < MIN_PROD_SECRET_BYTES:
                raise ConfigurationError(
                    f"CQRSW_READ_TOKEN_KEY must be at least {MIN_PROD_SECRET_BYTES} bytes when"
                    " CQRSW_ENV=prod"
                )
            return key
        if self.env == "prod":
            raise ConfigurationError("CQRSW_READ_TOKEN_KEY is required when CQRSW_ENV=prod")
        return hashlib.sha256(b"cqrsw read tokens\0" + self.jwt_hs256_secret.encode()).digest()

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
