"""Where PostgreSQL is and who connects to it: the server, its limits, one role per component.

Every component connects as its own PostgreSQL role (``cqrsw_<component>``); the admin
connection (the embedded superuser, or ``CQRSW_DATABASE_URL`` as given) only prepares the
server: databases, roles, privileges. A role's password is ``CQRSW_PG_PASSWORD_<ROLE>`` when
set, else the file ``<secrets dir>/<role>`` that ``stack up`` / ``init`` writes (mode 0600).
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict, make_conninfo
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings

REPO_ROOT = Path(__file__).resolve().parents[1]
ADMIN_SECRET = "postgres"  # file of the embedded superuser's password, in the secrets dir
# libpq's TLS parameters: kept from CQRSW_DATABASE_URL in every form a component connects
# with (libpq string, SQLAlchemy URL, dbt profile), so no component falls back to plain TCP.
TLS_PARAMETERS = ("sslmode", "sslrootcert", "sslcert", "sslkey")


class DbRole(StrEnum):
    """A component that connects to PostgreSQL; each has a login role of its own."""

    ORDERS = "orders"
    INVOICES = "invoices"
    STOCK = "stock"
    INGEST = "ingest"
    DBT = "dbt"
    PUBLISHER = "publisher"
    READ_API = "read_api"
    AIRFLOW = "airflow"
    ANALYST = "analyst"
    EXPORTER = "exporter"  # the pipeline's Prometheus exporter: reads ops and dead-letter counts

    @property
    def login(self) -> str:
        """The role's name on the server."""
        return f"cqrsw_{self.value}"


class MissingPassword(RuntimeError):
    """A component's role has no password yet: neither in its variable nor in the state dir."""


class DatabaseSettings(BaseSettings):
    """The PostgreSQL part of the settings; ``config.settings.Settings`` extends it."""

    # External engines. Unset means: use the embedded one that `cqrsw stack up` starts.
    database_url: str | None = Field(
        default=None,
        description="libpq URL of a PostgreSQL server, used as given (the admin) to create"
        " databases and roles; each component connects to the same host as its own role.",
    )
    state_dir: Path = Field(
        default=REPO_ROOT / ".cqrsw", description="Data, logs and pids of the embedded stack."
    )
    pg_port: int = Field(default=55432, ge=1, le=65535)
    pg_system_user: str = Field(
        default="embedded_postgres",
        pattern=r"^[a-z_][a-z0-9_-]{0,31}$",
        description="OS user the embedded PostgreSQL runs as when started by root; created"
        " if missing.",
    )
    pg_secrets_dir: Path | None = Field(
        default=None,
        description="Folder of one password file per database role; unset: <state_dir>/secrets.",
    )
    # A role's password given by the environment wins over its file (compose, Kubernetes).
    pg_password_orders: SecretStr | None = None
    pg_password_invoices: SecretStr | None = None
    pg_password_stock: SecretStr | None = None
    pg_password_ingest: SecretStr | None = None
    pg_password_dbt: SecretStr | None = None
    pg_password_publisher: SecretStr | None = None
    pg_password_read_api: SecretStr | None = None
    pg_password_airflow: SecretStr | None = None
    pg_password_analyst: SecretStr | None = None
    pg_password_exporter: SecretStr | None = None

    # Bounded time: no statement, lock wait or ingest run may hang the pipeline.
    pg_statement_timeout_s: float = Field(
        default=300, gt=0, le=86_400,
        description="Longest a single SQL statement may run on any connection of the project.",
    )  # fmt: skip
    pg_read_statement_timeout_s: float = Field(
        default=5, gt=0, le=3_600,
        description="Longest a statement of the read API's role may run: a request, not a batch.",
    )  # fmt: skip
    pg_lock_timeout_s: float = Field(
        default=10, gt=0, le=3_600,
        description="Longest a statement may wait for a lock (a table, an advisory lock).",
    )  # fmt: skip

    @property
    def embedded_postgres(self) -> bool:
        return self.database_url is None

    @property
    def admin_url_password(self) -> str | None:
        """The password inside ``CQRSW_DATABASE_URL``, if it holds one."""
        if not self.database_url:
            return None
        password = conninfo_to_dict(self.database_url).get("password")
        return str(password) if password is not None else None

    def tls_parameters(self) -> dict[str, str]:
        """The TLS parameters of ``CQRSW_DATABASE_URL`` (none for the embedded server)."""
        if not self.database_url:
            return {}
        params = conninfo_to_dict(self.database_url)
        return {name: str(params[name]) for name in TLS_PARAMETERS if params.get(name)}

    @property
    def secrets_dir(self) -> Path:
        return self.pg_secrets_dir or self.state_dir / "secrets"

    def given_password(self, role: DbRole) -> str | None:
        """The role's password from its ``CQRSW_PG_PASSWORD_*`` variable, if set."""
        value: SecretStr | None = getattr(self, f"pg_password_{role.value}")
        return value.get_secret_value() if value is not None else None

    def role_password(self, role: DbRole) -> str:
        """The role's password: its variable, else its file in the secrets dir."""
        given = self.given_password(role)
        if given is not None:
            return given
        try:
            return (self.secrets_dir / role.value).read_text().strip()
        except FileNotFoundError:
            raise MissingPassword(
                f"no password for the database role {role.login}: run `cqrsw stack up` (or the"
                f" container's `init`) first, or set CQRSW_PG_PASSWORD_{role.value.upper()}"
            ) from None

    def statement_timeout_ms(self, role: DbRole | None) -> int:
        """The statement timeout of a role's connections: short for the read API's."""
        if role is DbRole.READ_API:
            return int(self.pg_read_statement_timeout_s * 1000)
        return int(self.pg_statement_timeout_s * 1000)

    def dsn(self, dbname: str, role: DbRole | None = None) -> str:
        """libpq connection string for one database, as ``role`` (None: the admin)."""
        if self.database_url:
            params = conninfo_to_dict(self.database_url)
        else:
            params = {"host": "127.0.0.1", "port": str(self.pg_port), "user": "postgres"}
            admin_secret = self.secrets_dir / ADMIN_SECRET
            if admin_secret.exists():  # not yet on a server's very first start
                params["password"] = admin_secret.read_text().strip()
        if role is not None:
            params.update(user=role.login, password=self.role_password(role))
        params["dbname"] = dbname
        # Every connection bounds its statements and lock waits (server-side, per session).
        limits = (
            f"-c statement_timeout={self.statement_timeout_ms(role)}"
            f" -c lock_timeout={int(self.pg_lock_timeout_s * 1000)}"
        )
        params["options"] = f"{params['options']} {limits}" if params.get("options") else limits
        return make_conninfo(**{k: str(v) for k, v in params.items() if v is not None})
