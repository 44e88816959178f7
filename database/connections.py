"""PostgreSQL plumbing shared by every deployable: connections, pools, databases."""

from __future__ import annotations

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

from config.database_settings import DbRole
from config.settings import Settings


def connect(
    settings: Settings, dbname: str, *, autocommit: bool = False, role: DbRole | None = None
) -> psycopg.Connection:
    """A connection as ``role`` (a component), or as the admin when None (init, operators)."""
    return psycopg.connect(settings.dsn(dbname, role), autocommit=autocommit, connect_timeout=10)


def open_pool(
    settings: Settings,
    dbname: str,
    *,
    role: DbRole | None = None,
    max_size: int = 10,
    checked: bool = True,
) -> ConnectionPool:
    """Autocommit connections: writers open explicit ``conn.transaction()`` blocks.

    ``checked=False`` skips the round trip that checks each connection as it leaves the pool:
    for readers that retry a read on a connection found dead (``services.app.in_pool``)."""
    pool = ConnectionPool(
        settings.dsn(dbname, role),
        min_size=1,
        max_size=max_size,
        open=False,
        timeout=30,
        kwargs={"autocommit": True},
        # A connection is checked when it leaves the pool: after a PostgreSQL restart the
        # first request gets a fresh connection instead of a dead one.
        check=ConnectionPool.check_connection if checked else None,
    )
    pool.open(wait=True, timeout=30)
    return pool


def ensure_database(settings: Settings, dbname: str, owner: DbRole | None = None) -> bool:
    """Create ``dbname`` (owned by ``owner``) if it is missing; return True if it was created."""
    with connect(settings, "postgres", autocommit=True) as conn:
        db = sql.Identifier(dbname)
        exists = conn.execute("select 1 from pg_database where datname = %s", (dbname,)).fetchone()
        if owner is not None:
            role = sql.Identifier(owner.login)
            if exists:
                # Made by an older version, as the admin: the component's now. One that the
                # admin gave to another role on purpose (a migration) stays with that role.
                by_admin = conn.execute(
                    "select 1 from pg_database where datname = %s"
                    " and datdba = (select oid from pg_roles where rolname = current_user)",
                    (dbname,),
                ).fetchone()
                if by_admin:
                    conn.execute(sql.SQL("alter database {} owner to {}").format(db, role))
                return False
            conn.execute(sql.SQL("create database {} owner {}").format(db, role))
            return True
        if exists:
            return False
        conn.execute(sql.SQL("create database {}").format(db))
        return True


def sqlalchemy_url(
    settings: Settings, dbname: str, role: DbRole | None = None, driver: str = "psycopg"
) -> str:
    """SQLAlchemy URL of one database (for Airflow and Great Expectations), password escaped.

    The URL's TLS parameters go in its query: the psycopg dialect hands them to libpq."""
    from psycopg.conninfo import conninfo_to_dict
    from sqlalchemy.engine import URL

    params = conninfo_to_dict(settings.dsn(dbname, role))
    port = params.get("port")
    return URL.create(
        f"postgresql+{driver}",
        username=str(params.get("user", "postgres")),
        password=str(params["password"]) if params.get("password") else None,
        host=str(params.get("host", "127.0.0.1")),
        port=int(port) if port else None,
        database=dbname,
        query=settings.tls_parameters(),
    ).render_as_string(hide_password=False)
