"""Password authentication on the embedded server: scram-sha-256 for every TCP connection.

A new cluster is made with the superuser's password and this pg_hba.conf from the start. A
cluster made by an older version (trust for everyone) is upgraded the next time the stack
starts: the superuser gets a password, pg_hba.conf is rewritten and the server reloads it,
so an old ``.cqrsw/`` keeps its data and nobody is locked out.
"""

from __future__ import annotations

import time
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from config.database_settings import ADMIN_SECRET
from config.settings import Settings
from database.secret_files import ensure_secret
from stack.processes import StackError

SUPERUSER = "postgres"
# The server opens no Unix socket (unix_socket_directories=''); were one enabled, only the OS
# user that owns the cluster could use it (peer). Every TCP connection needs a password.
PG_HBA = """\
# Written by cqrs-warehouse (stack/pg_auth.py); rewritten when the stack starts.
local   all   all                  peer
host    all   all   127.0.0.1/32   scram-sha-256
host    all   all   ::1/128        scram-sha-256
"""
RELOAD_WAIT_S = 10.0


def superuser_password(settings: Settings) -> str:
    """The embedded superuser's password, generated into the state dir the first time."""
    return ensure_secret(settings.secrets_dir, ADMIN_SECRET)


def write_hba(pgdata: Path) -> None:
    """Replace pg_hba.conf in place: it keeps its owner (the server's OS user) and mode."""
    with (pgdata / "pg_hba.conf").open("w") as file:
        file.write(PG_HBA)


def require_passwords(settings: Settings, pgdata: Path) -> bool:
    """Upgrade a running trust cluster to passwords; False if it already required them."""
    hba = pgdata / "pg_hba.conf"
    secret = settings.secrets_dir / ADMIN_SECRET
    if hba.read_text() == PG_HBA:
        if not secret.exists():
            raise StackError(
                f"postgres: the server in {pgdata} needs passwords, but {secret} (the"
                " superuser's) is gone: restore it, or delete the data folder to start afresh"
            )
        return False
    password = superuser_password(settings)
    # Still trust: any password is accepted, so this connection works before and after.
    with psycopg.connect(settings.dsn("postgres"), autocommit=True) as conn:
        verifier = conn.pgconn.encrypt_password(
            password.encode(), SUPERUSER.encode(), b"scram-sha-256"
        ).decode()
        conn.execute(
            sql.SQL("alter role {} password {}").format(
                sql.Identifier(SUPERUSER), sql.Literal(verifier)
            )
        )
        write_hba(pgdata)
        conn.execute("select pg_reload_conf()")
    wait_until_refused(settings)
    return True


def refuses_without_password(settings: Settings) -> bool:
    """True when a TCP connection as the superuser without a password is refused."""
    params = conninfo_to_dict(settings.dsn("postgres"))
    params.pop("password", None)
    params["passfile"] = "/nonexistent"  # no ~/.pgpass either
    try:
        psycopg.connect(make_conninfo("", **params), connect_timeout=5).close()
    except psycopg.OperationalError as exc:
        return "password" in str(exc)
    return False


def wait_until_refused(settings: Settings) -> None:
    """pg_reload_conf() only signals the server: wait until it applies the new rules."""
    deadline = time.monotonic() + RELOAD_WAIT_S
    while not refuses_without_password(settings):
        if time.monotonic() > deadline:
            raise StackError("postgres: pg_hba.conf was rewritten, but trust is still in effect")
        time.sleep(0.05)
