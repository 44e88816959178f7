"""One PostgreSQL role per component, created idempotently by the admin connection.

What each role may do (docs/security.md has the table):

- ``cqrsw_orders`` / ``_invoices`` / ``_stock`` own their service's database, nothing else;
- ``cqrsw_airflow`` owns Airflow's metadata database;
- ``cqrsw_ingest`` owns schema ``raw`` (events, offsets, dead letters) in the warehouse;
- ``cqrsw_dbt`` reads ``raw`` and owns ``staging``, ``intermediate`` and ``marts``;
- ``cqrsw_publisher`` runs the gate, reads ``raw`` and ``marts``, owns ``serving`` and ``ops``;
- ``cqrsw_read_api`` reads ``serving`` and, for position tokens, ``event_id`` and
  ``ingest_txid`` of the raw event tables; read-only by default;
- ``cqrsw_analyst`` reads ``serving`` and ``marts``; read-only by default;
- ``cqrsw_exporter`` (the pipeline's metrics) reads ``ops`` and the topic and time of the
  dead letters; read-only by default.

Objects made before the roles existed (a state dir from an older version, all owned by the
superuser) are handed to their role here, so an upgrade keeps working.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from config.database_settings import DbRole
from config.settings import Settings
from contracts.catalog import raw_table
from database import connections
from database.locks import ROLES_LOCK
from database.names import AIRFLOW_DATABASE, SERVICE_DATABASES, WAREHOUSE_DATABASE
from database.secret_files import ensure_secret
from database.warehouse import MARTS_SCHEMA, RAW_SCHEMA, SERVING_SCHEMA

OPS_SCHEMA = "ops"
DATABASE_OWNERS: dict[str, DbRole] = {
    **{name: DbRole(name) for name in SERVICE_DATABASES},
    AIRFLOW_DATABASE: DbRole.AIRFLOW,
}
SCHEMA_OWNERS: dict[str, DbRole] = {
    RAW_SCHEMA: DbRole.INGEST,
    "staging": DbRole.DBT,
    "intermediate": DbRole.DBT,
    MARTS_SCHEMA: DbRole.DBT,
    SERVING_SCHEMA: DbRole.PUBLISHER,
    OPS_SCHEMA: DbRole.PUBLISHER,
}
# Who reads which warehouse schema; tables made there later are readable too.
SCHEMA_READERS: dict[str, tuple[DbRole, ...]] = {
    RAW_SCHEMA: (DbRole.DBT, DbRole.PUBLISHER),
    MARTS_SCHEMA: (DbRole.PUBLISHER, DbRole.ANALYST),
    SERVING_SCHEMA: (DbRole.READ_API, DbRole.ANALYST),
    OPS_SCHEMA: (DbRole.EXPORTER,),
}
WAREHOUSE_USERS = (
    DbRole.INGEST, DbRole.DBT, DbRole.PUBLISHER, DbRole.READ_API, DbRole.ANALYST, DbRole.EXPORTER,
)  # fmt: skip
# dbt may make a schema it builds in; the others' schemas come from the migrations alone, so
# no component can make one named like another role (compare FIXED_SEARCH_PATH).
SCHEMA_MAKERS = (DbRole.DBT,)
READ_ONLY = (DbRole.READ_API, DbRole.ANALYST, DbRole.EXPORTER)
FIXED_SEARCH_PATH = "public"
# Owns the stock service's operation log, its trigger function and the schema it is in: a
# role nobody logs in as, so the stock role (insert and select only) cannot drop the trigger,
# alter, truncate or drop the log. Made here; handed the log by a stock migration.
STOCK_LOG_OWNER = "cqrsw_stock_log"
POSITION_COLUMNS = ("event_id", "ingest_txid")  # what the read API's position tokens look up
DEAD_LETTERS_TABLE = "dead_letter_events"
DEAD_LETTER_COUNT_COLUMNS = ("kafka_topic", "ingested_at")  # what the exporter counts, no payload
RELATION_KINDS = {
    "r": "table", "p": "table", "v": "view", "m": "materialized view",
    "f": "foreign table", "S": "sequence",
}  # fmt: skip


def ensure_roles(settings: Settings) -> None:
    """Every component's login role with its password (given, or generated into the state dir)."""
    with connections.connect(settings, "postgres") as conn:
        conn.execute("select pg_advisory_xact_lock(%s)", (ROLES_LOCK,))
        for role in DbRole:
            password = settings.given_password(role) or ensure_secret(
                settings.secrets_dir, role.value
            )
            # Only the SCRAM verifier reaches the server: the password never shows in its logs.
            verifier = conn.pgconn.encrypt_password(
                password.encode(), role.login.encode(), b"scram-sha-256"
            ).decode()
            exists = conn.execute("select 1 from pg_roles where rolname = %s", (role.login,))
            verb = "alter" if exists.fetchone() else "create"
            conn.execute(
                sql.SQL(verb + " role {} login password {}").format(
                    sql.Identifier(role.login), sql.Literal(verifier)
                )
            )
            if role in READ_ONLY:
                conn.execute(
                    sql.SQL("alter role {} set default_transaction_read_only = on").format(
                        sql.Identifier(role.login)
                    )
                )
            # Also for connections made without the project's options (a psql session).
            conn.execute(
                sql.SQL("alter role {} set statement_timeout = {}").format(
                    sql.Identifier(role.login), sql.Literal(settings.statement_timeout_ms(role))
                )
            )
            # No "$user" on the search path: a schema named like a role (which a role allowed
            # to create schemas could make) must not come first in that role's lookups.
            conn.execute(
                sql.SQL("alter role {} set search_path = {}").format(
                    sql.Identifier(role.login), sql.Literal(FIXED_SEARCH_PATH)
                )
            )
        if conn.execute("select to_regrole(%s)", (STOCK_LOG_OWNER,)).fetchone() == (None,):
            conn.execute(sql.SQL("create role {} nologin").format(sql.Identifier(STOCK_LOG_OWNER)))


def secure_database(settings: Settings, dbname: str) -> None:
    """Only the roles that need a database may connect to it; its owner owns what is in it.

    The schemas themselves are made by the migrations (database.migrate), which run next."""
    with connections.connect(settings, dbname) as conn:
        conn.execute("select pg_advisory_xact_lock(%s)", (ROLES_LOCK,))
        db = sql.Identifier(dbname)
        conn.execute(sql.SQL("revoke connect on database {} from public").format(db))
        owner = DATABASE_OWNERS.get(dbname)
        if owner is not None:
            hand_over(conn, "public", owner)
            return
        users = sql.SQL(", ").join(sql.Identifier(r.login) for r in WAREHOUSE_USERS)
        makers = sql.SQL(", ").join(sql.Identifier(r.login) for r in SCHEMA_MAKERS)
        conn.execute(sql.SQL("grant connect on database {} to {}").format(db, users))
        conn.execute(sql.SQL("grant create on database {} to {}").format(db, makers))
        others = [r for r in WAREHOUSE_USERS if r not in SCHEMA_MAKERS]
        conn.execute(  # also from a server an older version granted it on
            sql.SQL("revoke create on database {} from {}").format(
                db, sql.SQL(", ").join(sql.Identifier(r.login) for r in others)
            )
        )
        for schema, role in SCHEMA_OWNERS.items():
            if conn.execute("select to_regnamespace(%s)", (schema,)).fetchone() != (None,):
                hand_over(conn, schema, role)


def grant_reads(settings: Settings, topics: tuple[str, ...]) -> None:
    """Readers of each warehouse schema, now and for tables made there later (run after DDL)."""
    with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
        conn.execute("select pg_advisory_xact_lock(%s)", (ROLES_LOCK,))
        for schema, readers in SCHEMA_READERS.items():
            names = sql.SQL(", ").join(sql.Identifier(r.login) for r in readers)
            ident = sql.Identifier(schema)
            owner = sql.Identifier(SCHEMA_OWNERS[schema].login)
            conn.execute(sql.SQL("grant usage on schema {} to {}").format(ident, names))
            conn.execute(
                sql.SQL("grant select on all tables in schema {} to {}").format(ident, names)
            )
            conn.execute(
                sql.SQL(
                    "alter default privileges for role {} in schema {} grant select on tables to {}"
                ).format(owner, ident, names)
            )
        read_api = sql.Identifier(DbRole.READ_API.login)
        conn.execute(
            sql.SQL("grant usage on schema {} to {}").format(sql.Identifier(RAW_SCHEMA), read_api)
        )
        columns = sql.SQL(", ").join(map(sql.Identifier, POSITION_COLUMNS))
        for topic in topics:
            conn.execute(
                sql.SQL("grant select ({}) on {} to {}").format(
                    columns, sql.Identifier(RAW_SCHEMA, raw_table(topic)), read_api
                )
            )
        exporter = sql.Identifier(DbRole.EXPORTER.login)
        conn.execute(
            sql.SQL("grant usage on schema {} to {}").format(sql.Identifier(RAW_SCHEMA), exporter)
        )
        conn.execute(
            sql.SQL("grant select ({}) on {} to {}").format(
                sql.SQL(", ").join(map(sql.Identifier, DEAD_LETTER_COUNT_COLUMNS)),
                sql.Identifier(RAW_SCHEMA, DEAD_LETTERS_TABLE),
                exporter,
            )
        )


def hand_over(conn: psycopg.Connection, schema: str, role: DbRole) -> None:
    """Give ``role`` the schema and what is in it (objects an older version made as admin).

    What the stock log's owner holds stays with it: a migration gave it away on purpose."""
    owner = sql.Identifier(role.login)
    kept = conn.execute(
        "select 1 from pg_namespace where nspname = %s and nspowner = to_regrole(%s)",
        (schema, STOCK_LOG_OWNER),
    ).fetchone()
    if kept is None:
        conn.execute(sql.SQL("alter schema {} owner to {}").format(sql.Identifier(schema), owner))
    relations = conn.execute(
        "select c.relname, c.relkind from pg_class as c"
        " join pg_namespace as n on n.oid = c.relnamespace"
        " where n.nspname = %s and c.relkind = any(%s) and c.relowner <> to_regrole(%s)"
        "  and c.relowner is distinct from to_regrole(%s)"
        # A sequence that belongs to a column moves with its table.
        "  and not exists (select 1 from pg_depend as d where d.classid = 'pg_class'::regclass"
        "   and d.objid = c.oid and d.deptype in ('a', 'i'))",
        (schema, list(RELATION_KINDS), role.login, STOCK_LOG_OWNER),
    ).fetchall()
    for name, kind in relations:
        conn.execute(
            sql.SQL("alter {} {} owner to {}").format(
                sql.SQL(RELATION_KINDS[kind]), sql.Identifier(schema, name), owner
            )
        )
    routines = conn.execute(
        "select p.oid::regprocedure::text from pg_proc as p"
        " join pg_namespace as n on n.oid = p.pronamespace"
        " where n.nspname = %s and p.proowner <> to_regrole(%s)"
        "  and p.proowner is distinct from to_regrole(%s)",
        (schema, role.login, STOCK_LOG_OWNER),
    ).fetchall()
    for (signature,) in routines:
        # The signature comes from the catalog, quoted by PostgreSQL itself.
        conn.execute(sql.SQL("alter routine {} owner to {}").format(sql.SQL(signature), owner))
