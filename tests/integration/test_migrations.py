"""Versioned migrations: an empty server and a server made by the 2026-12-06 version both come
to the newest revision, concurrently and repeatedly, and the pipeline runs with no manual step."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from psycopg import sql

from config.database_settings import DbRole
from config.settings import Settings
from contracts.catalog import TOPICS, raw_table
from cqrsw.cli import main as cqrsw
from database import connections, migrate, roles
from database.names import SERVICE_DATABASES, WAREHOUSE_DATABASE
from pipeline.mart_contracts import rebuild_reshaped_marts
from pipeline.steps import run_pipeline
from services.orders.app import create_app as orders_app
from services.tokens import issue_token
from stack.lifecycle import Stack
from tests.support.relay import relay_all
from tests.support.throwaway_stack import throwaway_stack

TODAY = Path(__file__).with_name("schema_2026_12_06")
DATABASES = (*SERVICE_DATABASES, WAREHOUSE_DATABASE)
WAREHOUSE_ROLES = ("admin", "ingest", "publisher", "dbt")  # the order the old code ran them in


def tables(settings: Settings, dbname: str) -> dict[str, list[tuple[str, str]]]:
    """Every table of a database with its columns and types, and who owns it."""
    with connections.connect(settings, dbname) as conn:
        rows = conn.execute(
            "select n.nspname || '.' || c.relname, pg_get_userbyid(c.relowner),"
            " a.attname, format_type(a.atttypid, a.atttypmod)"
            " from pg_class as c join pg_namespace as n on n.oid = c.relnamespace"
            " join pg_attribute as a on a.attrelid = c.oid and a.attnum > 0"
            " where c.relkind in ('r', 'p') and n.nspname not in ('pg_catalog',"
            "  'information_schema') and c.relname <> 'alembic_version'"
            " order by 1, a.attname",
        ).fetchall()
    found: dict[str, list[tuple[str, str]]] = {}
    for table, owner, column, type_name in rows:
        found.setdefault(f"{table} ({owner})", []).append((column, type_name))
    return found


def indexes(settings: Settings, dbname: str) -> set[str]:
    with connections.connect(settings, dbname) as conn:
        rows = conn.execute(
            "select indexdef from pg_indexes where schemaname not in ('pg_catalog')"
            " and tablename <> 'alembic_version'"
        ).fetchall()
    return {row[0] for row in rows}


def make_todays_schema(settings: Settings) -> None:
    """The databases as the 2026-12-06 version left them: its DDL files, run by its roles."""
    with connections.connect(settings, "postgres", autocommit=True) as conn:
        for name in DATABASES:
            conn.execute(sql.SQL("drop database {} with (force)").format(sql.Identifier(name)))
    for name in DATABASES:
        connections.ensure_database(settings, name, roles.DATABASE_OWNERS.get(name))
        roles.secure_database(settings, name)
    for name in SERVICE_DATABASES:
        run_file(settings, name, DbRole(name), TODAY / f"{name}.{name}.sql")
    with connections.connect(settings, WAREHOUSE_DATABASE, autocommit=True) as conn:
        # That version let ingest, dbt and publisher make their own schemas.
        makers = [sql.Identifier(r.login) for r in (DbRole.INGEST, DbRole.DBT, DbRole.PUBLISHER)]
        conn.execute(
            sql.SQL("grant create on database {} to {}").format(
                sql.Identifier(WAREHOUSE_DATABASE), sql.SQL(", ").join(makers)
            )
        )
    for role in WAREHOUSE_ROLES:
        who = None if role == "admin" else DbRole(role)
        run_file(settings, WAREHOUSE_DATABASE, who, TODAY / f"{WAREHOUSE_DATABASE}.{role}.sql")
    roles.grant_reads(settings, TOPICS)


def run_file(settings: Settings, dbname: str, role: DbRole | None, path: Path) -> None:
    with connections.connect(settings, dbname, role=role) as conn:
        conn.execute(path.read_bytes())


@pytest.fixture(scope="module")
def fresh() -> Iterator[Settings]:
    """A stack of its own whose databases `stack up` made from nothing."""
    with throwaway_stack() as settings:
        yield settings


def test_an_empty_server_comes_to_the_newest_revision(fresh: Settings) -> None:
    heads = {target.dbname: migrate.head(target) for target in migrate.TARGETS}
    assert migrate.current(fresh) == heads
    assert all(heads.values())
    warehouse = tables(fresh, WAREHOUSE_DATABASE)
    for topic in TOPICS:  # a raw table per topic of the catalogue, owned by the ingest role
        assert f"raw.{raw_table(topic)} (cqrsw_ingest)" in warehouse
    assert "serving.publications (cqrsw_publisher)" in warehouse
    assert "marts.dbt_run_horizons (cqrsw_dbt)" in warehouse
    assert "public.orders (cqrsw_orders)" in tables(fresh, "orders")


def test_the_command_upgrades_and_says_where_each_database_is(
    fresh: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.MonkeyPatch.context() as mp:
        for name, value in fresh.as_env().items():
            mp.setenv(name, value)
        capsys.readouterr()
        assert cqrsw(["db", "upgrade"]) == 0
        assert cqrsw(["db", "current"]) == 0
    lines = capsys.readouterr().out.splitlines()
    expected = [f"{t.dbname}: {migrate.head(t)}" for t in migrate.TARGETS]
    assert lines == expected * 2


def test_a_write_service_waits_for_its_migrations_then_says_what_to_run(fresh: Settings) -> None:
    migrate.wait_until_current(fresh, "orders", 0)  # at the newest revision: returns at once
    with connections.connect(fresh, "orders") as conn:
        conn.execute("delete from alembic_version")  # as a database no upgrade has reached
    try:
        with pytest.raises(migrate.SchemaNotCurrent, match="run `cqrsw db upgrade`"):
            migrate.wait_until_current(fresh, "orders", 1.5)
    finally:
        migrate.upgrade(fresh)  # the first revision adopts what is there
    migrate.wait_until_current(fresh, "orders", 0)


def test_a_new_event_type_is_one_small_revision(tmp_path: Path) -> None:
    warehouse = migrate.TARGETS_BY_NAME[WAREHOUSE_DATABASE]
    versions = tmp_path / "warehouse"
    shutil.copytree(warehouse.versions, versions)
    head = migrate.head(warehouse)
    assert head is not None
    new = f"{int(head) + 1:04d}"
    (versions / f"v{new}_order_shipped.py").write_text(
        NEW_EVENT_TYPE.format(revision=new, down_revision=head)
    )
    with throwaway_stack(kafka=False) as settings:
        assert "raw.order_shipped (cqrsw_ingest)" not in tables(settings, WAREHOUSE_DATABASE)
        target = replace(warehouse, versions_dir=versions)
        assert migrate.upgrade_database(settings, target) == new
        shipped = tables(settings, WAREHOUSE_DATABASE)["raw.order_shipped (cqrsw_ingest)"]
        created = tables(settings, WAREHOUSE_DATABASE)["raw.order_created (cqrsw_ingest)"]
        assert shipped == created  # the same shape, from the same function
        assert (
            "CREATE INDEX order_shipped_ingest_txid ON raw.order_shipped USING btree"
            " (ingest_txid)" in indexes(settings, WAREHOUSE_DATABASE)
        )


NEW_EVENT_TYPE = '''"""Raw table of order.shipped."""

from alembic import op

from config.database_settings import DbRole
from database.migrations.ddl import create_raw_table, owned_by

revision = "{revision}"
down_revision = "{down_revision}"


def upgrade() -> None:
    with owned_by(op, DbRole.INGEST):
        create_raw_table(op, "order.shipped")
'''


def test_upgrades_at_once_take_turns_and_a_repeat_changes_nothing(fresh: Settings) -> None:
    before = {name: (tables(fresh, name), indexes(fresh, name)) for name in DATABASES}
    # As two `stack up` and an init job would: processes of their own, at once.
    env = {**os.environ, **fresh.as_env()}
    cqrsw_cli = Path(sys.executable).with_name("cqrsw")
    upgrades = [
        subprocess.Popen(
            [str(cqrsw_cli), "db", "upgrade"], env=env, stdout=subprocess.PIPE, text=True
        )
        for _ in range(3)
    ]
    outputs = [upgrade.communicate(timeout=180)[0] for upgrade in upgrades]
    assert [upgrade.returncode for upgrade in upgrades] == [0, 0, 0], outputs
    expected = "".join(f"{t.dbname}: {migrate.head(t)}\n" for t in migrate.TARGETS)
    assert outputs == [expected] * 3
    # Threads of one process take turns too.
    results: list[object] = []

    def upgrade() -> None:
        try:
            results.append(migrate.upgrade(fresh))
        except Exception as exc:
            results.append(exc)

    threads = [threading.Thread(target=upgrade) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert results == [migrate.current(fresh)] * 3
    assert {name: (tables(fresh, name), indexes(fresh, name)) for name in DATABASES} == before


def test_a_server_of_the_previous_version_is_upgraded_to_the_same_schema(fresh: Settings) -> None:
    with throwaway_stack(kafka=False) as old:
        make_todays_schema(old)
        assert migrate.current(old) == dict.fromkeys(DATABASES)  # never migrated
        Stack(old).prepare_databases()  # what `stack up` and the container's init run
        assert migrate.current(old) == migrate.current(fresh)
        for name in DATABASES:
            assert tables(old, name) == tables(fresh, name), name
            assert indexes(old, name) == indexes(fresh, name), name


@pytest.fixture(scope="module")
def upgraded() -> Iterator[Settings]:
    """A stack made by the previous version, then brought up by this one."""
    with throwaway_stack() as settings:
        make_todays_schema(settings)
        Stack(settings).prepare_databases()
        yield settings


def order_served(settings: Settings, order_id: str) -> dict[str, object] | None:
    with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
        row = conn.execute(
            "select status, customer_name from serving.orders_with_invoices where order_id = %s",
            (order_id,),
        ).fetchone()
    return {"status": row[0], "customer_name": row[1]} if row else None


def create_order(settings: Settings, client: TestClient, name: str) -> str:
    token = issue_token(settings, "mig-user")
    r = client.post(
        "/orders", json={"customer_name": name}, headers={"Authorization": f"Bearer {token}"}
    )
    assert r.status_code == 201, r.text
    relay_all(settings, "orders")
    return str(r.json()["order_id"])


def test_after_the_upgrade_a_command_reaches_serving_with_no_manual_step(
    upgraded: Settings,
) -> None:
    with TestClient(orders_app(upgraded)) as orders:
        first = create_order(upgraded, orders, "Ada")
        run_pipeline(upgraded)
        assert order_served(upgraded, first) == {"status": "created", "customer_name": "Ada"}

        # A mart built by a version whose contract lacked a column (the mart had no channel
        # until 2026-12-06): the next run rebuilds it from the raw log by itself, and publish
        # serves its new shape.
        with connections.connect(upgraded, WAREHOUSE_DATABASE, role=DbRole.DBT) as conn:
            conn.execute("alter table marts.orders_with_invoices drop column channel")
        second = create_order(upgraded, orders, "Grace")
        run_pipeline(upgraded)
    assert order_served(upgraded, first) == {"status": "created", "customer_name": "Ada"}
    assert order_served(upgraded, second) == {"status": "created", "customer_name": "Grace"}
    with connections.connect(upgraded, WAREHOUSE_DATABASE) as conn:
        served = conn.execute(
            "select channel from serving.orders_with_invoices where order_id = any(%s::uuid[])",
            ([first, second],),
        ).fetchall()
    assert served == [("api",), ("api",)]
    assert rebuild_reshaped_marts(upgraded) == []  # rebuilt once, then incremental again
