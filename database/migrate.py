"""Versioned schema migrations (Alembic): one entry point upgrades every database we own.

Each database has its own history (``database/migrations/<database>/``) and its own
``alembic_version`` table. An upgrade runs in one transaction that first takes the migration
lock, so concurrent upgrades (two ``stack up``, an init job and a test) run one after the
other, and the second finds nothing left to do. Airflow's database is migrated by Airflow.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine, text
from sqlalchemy.pool import NullPool

from config.database_settings import DbRole
from config.settings import Settings
from database import connections
from database.locks import MIGRATIONS_LOCK
from database.names import SERVICE_DATABASES, WAREHOUSE_DATABASE

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# Alembic's `context` and `op` are proxies global to the process: two upgrades on threads of
# one process would run in each other's context. The advisory lock orders processes; this
# orders threads.
_IN_PROCESS = threading.Lock()


@dataclass(frozen=True)
class Target:
    """A database with a migration history, and the role its migrations connect as."""

    dbname: str
    role: DbRole | None  # None: the admin (the warehouse, whose schemas have several owners)
    versions_dir: Path | None = None  # default: database/migrations/<dbname>

    @property
    def versions(self) -> Path:
        return self.versions_dir or MIGRATIONS_DIR / self.dbname


# A write service's database belongs to its role: its migrations run as that role (the admin
# connects and sets the role), so what they create is the service's; a revision that must
# do what only the admin may (hand an object to another role) resets the role for that
# step. The warehouse's revisions switch to each schema's owner.
TARGETS: tuple[Target, ...] = (
    *(Target(name, DbRole(name)) for name in SERVICE_DATABASES),
    Target(WAREHOUSE_DATABASE, None),
)
TARGETS_BY_NAME = {target.dbname: target for target in TARGETS}


_ALEMBIC_COMMANDS = threading.Lock()


class SchemaNotCurrent(RuntimeError):
    """A database is behind its newest revision: run ``cqrsw db upgrade`` (or the init job)."""


def alembic_config(target: Target) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("version_locations", str(target.versions))
    config.set_main_option("path_separator", "os")
    return config


def head(target: Target) -> str | None:
    """The newest revision of ``target``'s history."""
    return ScriptDirectory.from_config(alembic_config(target)).get_current_head()


def upgrade(settings: Settings, revision: str = "head") -> dict[str, str | None]:
    """Bring every database to ``revision``; return each one's revision afterwards."""
    return {target.dbname: upgrade_database(settings, target, revision) for target in TARGETS}


def upgrade_database(settings: Settings, target: Target, revision: str = "head") -> str | None:
    """Upgrade one database in one transaction under the migration lock; idempotent."""
    engine = create_engine(
        "postgresql+psycopg://",
        creator=lambda: connections.connect(settings, target.dbname),
        poolclass=NullPool,
    )
    try:
        with _IN_PROCESS, engine.begin() as conn:
            # Waiting for another upgrade is waiting for its progress: no time limit. What the
            # revisions do then keeps the connection's lock_timeout (a table a reader holds).
            lock_timeout: str = conn.execute(text("show lock_timeout")).scalar_one()
            conn.execute(text("set local lock_timeout = 0"))
            conn.execute(text("select pg_advisory_xact_lock(:key)"), {"key": MIGRATIONS_LOCK})
            conn.execute(
                text("select set_config('lock_timeout', :value, true)"), {"value": lock_timeout}
            )
            # A revision that rewrites a big table may take longer than a statement of a run.
            conn.execute(text("set local statement_timeout = 0"))
            if target.role is not None:
                conn.execute(
                    text("select set_config('role', :role, true)"), {"role": target.role.login}
                )
            config = alembic_config(target)
            config.attributes["connection"] = conn
            # Alembic's `context` and `op` are module-level proxies, installed and removed by
            # each command: two commands at once in one process (threads) would tear down
            # each other's. The advisory lock orders processes; this orders threads.
            with _ALEMBIC_COMMANDS:
                command.upgrade(config, revision)
            return current_revision(conn)
    finally:
        engine.dispose()


def current_revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()


def current(settings: Settings) -> dict[str, str | None]:
    """Each database's revision now (None: never migrated)."""
    found: dict[str, str | None] = {}
    for target in TARGETS:
        engine = create_engine(
            "postgresql+psycopg://",
            creator=lambda t=target: connections.connect(settings, t.dbname, role=t.role),
            poolclass=NullPool,
        )
        try:
            with engine.connect() as conn:
                found[target.dbname] = current_revision(conn)
        finally:
            engine.dispose()
    return found


def wait_until_current(settings: Settings, dbname: str, timeout_s: float) -> None:
    """Return once ``dbname`` is at its newest revision; raise SchemaNotCurrent past timeout.

    For deployables started beside the init job (compose, Kubernetes): they wait for it
    instead of running DDL of their own."""
    target = TARGETS_BY_NAME[dbname]
    wanted = head(target)
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            have = _version(settings, target)
        except psycopg.OperationalError as exc:  # not created yet, or not reachable yet
            have = f"unknown ({exc})".strip()
        if have == wanted:
            return
        if time.monotonic() >= deadline:
            raise SchemaNotCurrent(
                f"database {dbname!r} is at revision {have}, this version needs {wanted}: run"
                " `cqrsw db upgrade` (the container's `init` role does)"
            )
        time.sleep(1.0)


def _version(settings: Settings, target: Target) -> str | None:
    with connections.connect(settings, target.dbname, role=target.role) as conn:
        table = conn.execute("select to_regclass('public.alembic_version')").fetchone()
        if table is None or table[0] is None:
            return None
        row = conn.execute("select version_num from public.alembic_version").fetchone()
        return str(row[0]) if row else None
