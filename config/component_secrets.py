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


def event_signing_key(service: str) -> str:
    """A write service's private event key (a PEM file): compose's secret, the Secret's key."""
    return f"CQRSW_EVENT_SIGNING_KEY_{service.upper()}"


def kafka_password(user: str) -> str:
    """A Kafka user's SCRAM password (a file): compose's secret, the Secret's key."""
    return f"CQRSW_KAFKA_PASSWORD_{user.upper()}"


def kafka_tls_key(principal: str) -> str:
    """A Kafka node's or the Kafka admin's private key and certificate (one PEM file)."""
    return f"KAFKA_TLS_KEY_{principal.upper().replace('-', '_')}"


WRITE_SERVICES: Final = ("orders", "invoices", "stock")
# Kafka users (SCRAM): each write service as itself (it writes its own topics), the ingest
# (reads them all) and init (creates them). Their ACLs: contracts/kafka_acls.py.
INGEST_KAFKA_USER: Final = "ingest"
# The group librdkafka's consumer must name (ingest/reader.py): the ingest only looks up its
# coordinator (Describe), never joins it nor commits to it; offsets live in the warehouse.
INGEST_KAFKA_GROUP: Final = "cqrsw-ingest"
INIT_KAFKA_USER: Final = "init"
KAFKA_USERS: Final = (*WRITE_SERVICES, INGEST_KAFKA_USER, INIT_KAFKA_USER)
# compose's brokers, and the certificate kafka-init connects with (a super user, like them).
KAFKA_NODES: Final = ("kafka-1", "kafka-2", "kafka-3")
KAFKA_ADMIN: Final = "kafka-admin"
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
     JWT_SECRET, READ_TOKEN_KEY, *(role_password(role) for role in DbRole),
     *(event_signing_key(service) for service in WRITE_SERVICES),
     *(kafka_password(user) for user in KAFKA_USERS),
     *(kafka_tls_key(principal) for principal in (*KAFKA_NODES, KAFKA_ADMIN))}
)  # fmt: skip

# Airflow's components all build the dbt connection of the DAGs' tasks (stack.airflow);
# the scheduler runs the tasks (ingest, dbt, gate and publish); the triggerer ends them.
_AIRFLOW = {AIRFLOW_JWT, AIRFLOW_FERNET, role_password(DbRole.AIRFLOW), role_password(DbRole.DBT)}
_AIRFLOW_TASKS = {
    role_password(DbRole.INGEST),
    role_password(DbRole.PUBLISHER),
    kafka_password(INGEST_KAFKA_USER),
}

NEEDS: Final[dict[str, frozenset[str]]] = {
    # init creates the databases and every role with its password, as the admin.
    # The write services seal position tokens that the read API opens: they share that key.
    # Each signs its events with its own private key; the ingest (run by Airflow's scheduler
    # and triggerer) checks them with the public keys, a file that is no secret.
    # It also writes the Airflow UI's login (stack.airflow.prepare_airflow).
    # Each Kafka client holds its own Kafka user's password and no other.
    "init": frozenset(
        {
            ADMIN_URL,
            AIRFLOW_ADMIN,
            *(role_password(role) for role in DbRole),
            kafka_password(INIT_KAFKA_USER),
        }
    ),
    **{
        service: frozenset(
            {
                role_password(DbRole(service)),
                READ_TOKEN_KEY,
                event_signing_key(service),
                kafka_password(service),
            }
        )
        for service in WRITE_SERVICES
    },
    "read-api": frozenset({role_password(DbRole.READ_API), READ_TOKEN_KEY}),
    "pipeline-exporter": frozenset({role_password(DbRole.EXPORTER)}),
    "airflow-api-server": frozenset({*_AIRFLOW, AIRFLOW_ADMIN}),
    "airflow-dag-processor": frozenset(_AIRFLOW),
    "airflow-scheduler": frozenset({*_AIRFLOW, *_AIRFLOW_TASKS}),
    "airflow-triggerer": frozenset({*_AIRFLOW, *_AIRFLOW_TASKS}),
    "postgres": frozenset({POSTGRES_PASSWORD}),
    # Each broker its own key; kafka-init its admin key and every Kafka user's password (it
    # creates the users, as init creates the database roles).
    **{node: frozenset({kafka_tls_key(node)}) for node in KAFKA_NODES},
    "kafka-init": frozenset(
        {kafka_tls_key(KAFKA_ADMIN), *(kafka_password(user) for user in KAFKA_USERS)}
    ),
    "grafana": frozenset({GRAFANA_ADMIN}),
    # Checks the official images' secrets before they start (cqrsw.container check-secrets).
    "check-secrets": frozenset({POSTGRES_PASSWORD, GRAFANA_ADMIN}),
}
