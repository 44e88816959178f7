"""Which deployed component holds which secret: the one table compose and Kubernetes follow.

Each container or pod gets exactly the secrets listed for it (tests/deploy check both files
against this table). A component compromised then exposes its own role and nothing else:
the admin URL lives in the init job alone, each service holds only its database role.
"""

from __future__ import annotations

from typing import Final

from config.database_settings import DbRole


def role_password(role: DbRole) -> str:
    return f"CQRSW_PG_PASSWORD_{role.value.upper()}"


ADMIN_URL: Final = "CQRSW_DATABASE_URL"  # a secret where it carries the admin's password
POSTGRES_PASSWORD: Final = "POSTGRES_PASSWORD"
AIRFLOW_ADMIN: Final = "CQRSW_AIRFLOW_ADMIN_PASSWORD"
AIRFLOW_JWT: Final = "AIRFLOW__API_AUTH__JWT_SECRET"
AIRFLOW_FERNET: Final = "AIRFLOW__CORE__FERNET_KEY"
GRAFANA_ADMIN: Final = "GF_SECURITY_ADMIN_PASSWORD"
JWT_SECRET: Final = "CQRSW_JWT_SECRET"  # HS256 for the local dev stack only
READ_TOKEN_KEY: Final = "CQRSW_READ_TOKEN_KEY"  # seals position tokens and keyset cursors

SECRETS: Final = frozenset(
    {ADMIN_URL, POSTGRES_PASSWORD, AIRFLOW_ADMIN, AIRFLOW_JWT, AIRFLOW_FERNET, GRAFANA_ADMIN,
     JWT_SECRET, READ_TOKEN_KEY, *(role_password(role) for role in DbRole)}
)  # fmt: skip

# Airflow's components all build the dbt connection of the DAGs' tasks (stack.airflow);
# the scheduler runs the tasks (ingest, dbt, gate and publish); the triggerer ends them.
_AIRFLOW = {AIRFLOW_JWT, AIRFLOW_FERNET, role_password(DbRole.AIRFLOW), role_password(DbRole.DBT)}
_AIRFLOW_TASKS = {role_password(DbRole.INGEST), role_password(DbRole.PUBLISHER)}

NEEDS: Final[dict[str, frozenset[str]]] = {
    # init creates the databases and every role with its password, as the admin.
    # The write services seal position tokens that the read API opens: they share that key.
    "init": frozenset({ADMIN_URL, *(role_password(role) for role in DbRole)}),
    "orders": frozenset({role_password(DbRole.ORDERS), READ_TOKEN_KEY}),
    "invoices": frozenset({role_password(DbRole.INVOICES), READ_TOKEN_KEY}),
    "stock": frozenset({role_password(DbRole.STOCK), READ_TOKEN_KEY}),
    "read-api": frozenset({role_password(DbRole.READ_API), READ_TOKEN_KEY}),
    "pipeline-exporter": frozenset({role_password(DbRole.EXPORTER)}),
    "airflow-api-server": frozenset({*_AIRFLOW, AIRFLOW_ADMIN}),
    "airflow-dag-processor": frozenset(_AIRFLOW),
    "airflow-scheduler": frozenset({*_AIRFLOW, *_AIRFLOW_TASKS}),
    "airflow-triggerer": frozenset({*_AIRFLOW, *_AIRFLOW_TASKS}),
    "postgres": frozenset({POSTGRES_PASSWORD}),
    "grafana": frozenset({GRAFANA_ADMIN}),
    # Checks the official images' secrets before they start (cqrsw.container check-secrets).
    "check-secrets": frozenset({POSTGRES_PASSWORD, GRAFANA_ADMIN}),
}
