"""Least privilege on the real server: passwords over TCP, and each role only where it belongs."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import errors, sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from config.database_settings import DbRole
from config.settings import Settings
from database import connections
from database.names import WAREHOUSE_DATABASE
from stack import pg_auth
from stack.lifecycle import Stack
from stack.processes import StackError
from tests.support.throwaway_stack import throwaway_stack


def as_role(
    settings: Settings, role: DbRole, dbname: str = WAREHOUSE_DATABASE
) -> psycopg.Connection:
    conn = connections.connect(settings, dbname, role=role)
    # The read-only default of read_api/analyst is a second line: privileges must hold alone.
    conn.execute("set default_transaction_read_only = off")
    conn.commit()
    return conn


def refused(
    settings: Settings, role: DbRole, statement: str, dbname: str = WAREHOUSE_DATABASE
) -> bool:
    with as_role(settings, role, dbname) as conn:
        try:
            conn.execute(statement.encode())
        except errors.InsufficientPrivilege:
            return True
        finally:
            conn.rollback()
    return False


@pytest.fixture(scope="module")
def warehouse(settings: Settings) -> Settings:
    """Tables in serving (the migrations') and marts made by their owners, as dbt makes them."""
    with as_role(settings, DbRole.DBT) as conn:
        conn.execute("create table if not exists marts.roles_probe (i int)")
    return settings


def test_tcp_without_a_password_is_refused(settings: Settings) -> None:
    assert pg_auth.refuses_without_password(settings)
    params = conninfo_to_dict(settings.dsn(WAREHOUSE_DATABASE, DbRole.ANALYST))
    params["password"] = "not-the-password"
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(make_conninfo("", **params), connect_timeout=5)


def test_role_passwords_are_files_only_their_owner_reads(settings: Settings) -> None:
    assert settings.secrets_dir.stat().st_mode & 0o777 == 0o700
    for role in DbRole:
        assert (settings.secrets_dir / role.value).stat().st_mode & 0o777 == 0o600


def test_read_api_reads_serving_and_position_columns_and_writes_nothing(
    warehouse: Settings,
) -> None:
    with as_role(warehouse, DbRole.READ_API) as conn:
        conn.execute("select count(*) from serving.publications")
        conn.execute("select event_id, ingest_txid from raw.order_created limit 1")
    assert refused(warehouse, DbRole.READ_API, "select payload from raw.order_created")
    assert refused(
        warehouse,
        DbRole.READ_API,
        "insert into serving.publications (view_name, watermark, mode, rows_written)"
        " values ('x', 0, 'upsert', 0)",
    )
    assert refused(warehouse, DbRole.READ_API, "delete from serving.publications")
    assert refused(warehouse, DbRole.READ_API, "select * from marts.roles_probe")


def test_ingest_writes_raw_and_cannot_touch_marts_or_serving(warehouse: Settings) -> None:
    with as_role(warehouse, DbRole.INGEST) as conn:
        conn.execute(
            "insert into raw.ingest_offsets (topic, partition, next_offset) values ('probe', 0, 0)"
        )
        conn.rollback()
    assert refused(warehouse, DbRole.INGEST, "select * from serving.publications")
    assert refused(warehouse, DbRole.INGEST, "select * from marts.roles_probe")
    assert refused(warehouse, DbRole.INGEST, "create table marts.ingest_probe (i int)")
    assert refused(warehouse, DbRole.INGEST, "create table serving.ingest_probe (i int)")


def test_dbt_reads_raw_and_cannot_write_serving(warehouse: Settings) -> None:
    with as_role(warehouse, DbRole.DBT) as conn:
        conn.execute("select payload from raw.order_created limit 1")
    assert refused(warehouse, DbRole.DBT, "delete from serving.publications")
    assert refused(warehouse, DbRole.DBT, "create table serving.dbt_probe (i int)")


def test_publisher_reads_marts_dbt_makes_later(warehouse: Settings) -> None:
    with as_role(warehouse, DbRole.PUBLISHER) as conn:
        conn.execute("select * from marts.roles_probe")
        conn.execute("select payload from raw.order_created limit 1")


def test_analyst_reads_serving_and_marts_only(warehouse: Settings) -> None:
    with as_role(warehouse, DbRole.ANALYST) as conn:
        conn.execute("select count(*) from serving.publications")
        conn.execute("select * from marts.roles_probe")
    assert refused(warehouse, DbRole.ANALYST, "select * from raw.order_created")
    assert refused(warehouse, DbRole.ANALYST, "select * from raw.dead_letter_events")
    assert refused(warehouse, DbRole.ANALYST, "delete from serving.publications")
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        connections.connect(warehouse, "orders", role=DbRole.ANALYST)


@pytest.mark.parametrize(
    ("role", "other"),
    [
        (DbRole.ORDERS, "invoices"),
        (DbRole.INVOICES, "stock"),
        (DbRole.STOCK, "orders"),
        (DbRole.ORDERS, WAREHOUSE_DATABASE),
        (DbRole.READ_API, "orders"),
        (DbRole.INGEST, "airflow"),
    ],
)
def test_a_role_cannot_reach_another_components_database(
    settings: Settings, role: DbRole, other: str
) -> None:
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        connections.connect(settings, other, role=role)


def test_a_write_service_owns_its_database(settings: Settings) -> None:
    with as_role(settings, DbRole.ORDERS, "orders") as conn:
        conn.execute("create table roles_probe (i int)")
        conn.rollback()


def test_a_trust_cluster_of_an_older_version_is_upgraded_without_losing_data() -> None:
    with throwaway_stack(kafka=False) as settings:
        stack = Stack(settings)
        with connections.connect(settings, "orders") as conn:  # as an old version: the admin
            conn.execute("create table old_orders (id int)")
            conn.execute("insert into old_orders values (1)")
        with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
            conn.execute("alter table raw.ingest_offsets owner to postgres")
        stack.stop_postgres()
        (stack.pgdata / "pg_hba.conf").write_text("host all all 127.0.0.1/32 trust\n")
        for secret in settings.secrets_dir.iterdir():  # an old state dir has no passwords
            secret.unlink()
        stack.start_postgres()
        stack.prepare_databases()

        assert pg_auth.refuses_without_password(settings)
        with as_role(settings, DbRole.ORDERS, "orders") as conn:
            assert conn.execute("select id from old_orders").fetchall() == [(1,)]
            conn.execute("insert into old_orders values (2)")  # handed over to the service
        with as_role(settings, DbRole.INGEST) as conn:
            owner = conn.execute(
                "select tableowner from pg_tables where tablename = 'ingest_offsets'"
            ).fetchone()
        assert owner == (DbRole.INGEST.login,)
        # A restart (the fault suite does that) keeps every password working.
        stack.stop_postgres()
        stack.start_postgres()
        with as_role(settings, DbRole.ANALYST) as conn:
            assert conn.execute("select current_user").fetchone() == (DbRole.ANALYST.login,)
        # Without the superuser's password file nothing could prepare the server: say so.
        stack.stop_postgres()
        (settings.secrets_dir / "postgres").unlink()
        with pytest.raises(StackError, match="superuser's\\) is gone"):
            stack.start_postgres()


def test_a_schema_named_like_a_role_never_comes_first_on_its_search_path(
    warehouse: Settings,
) -> None:
    impostor = sql.Identifier(DbRole.PUBLISHER.login)
    with as_role(warehouse, DbRole.INGEST) as conn:
        try:
            conn.execute(sql.SQL("create schema {}").format(impostor))
        except errors.InsufficientPrivilege:
            conn.rollback()
            return  # cannot even be made: nothing can shadow the publisher's tables
        conn.execute(sql.SQL("grant usage on schema {} to {}").format(impostor, impostor))
        conn.commit()
    try:
        with as_role(warehouse, DbRole.PUBLISHER) as conn:
            schemas = conn.execute("select current_schemas(false)").fetchall()[0][0]
        assert DbRole.PUBLISHER.login not in schemas
    finally:
        with connections.connect(warehouse, WAREHOUSE_DATABASE) as conn:
            conn.execute(sql.SQL("drop schema if exists {} cascade").format(impostor))


def test_the_read_apis_statements_are_cut_short_also_without_the_projects_options(
    settings: Settings,
) -> None:
    expected = f"{settings.statement_timeout_ms(DbRole.READ_API) // 1000}s"
    assert settings.statement_timeout_ms(DbRole.READ_API) < settings.statement_timeout_ms(None)
    params = conninfo_to_dict(settings.dsn(WAREHOUSE_DATABASE, DbRole.READ_API))
    with connections.connect(settings, WAREHOUSE_DATABASE, role=DbRole.READ_API) as conn:
        assert conn.execute("show statement_timeout").fetchall() == [(expected,)]
    del params["options"]  # as a psql session would connect
    with psycopg.connect(make_conninfo("", **params), connect_timeout=5) as conn:
        assert conn.execute("show statement_timeout").fetchall() == [(expected,)]


def test_the_metrics_exporter_reads_counts_and_writes_nothing(warehouse: Settings) -> None:
    with as_role(warehouse, DbRole.EXPORTER) as conn:
        conn.execute("select count(*) from ops.view_publications")
        conn.execute("select kafka_topic, max(ingested_at) from raw.dead_letter_events group by 1")
    assert refused(warehouse, DbRole.EXPORTER, "select * from raw.dead_letter_events")
    assert refused(warehouse, DbRole.EXPORTER, "select payload from raw.order_created")
    assert refused(warehouse, DbRole.EXPORTER, "delete from ops.view_publications")
    assert refused(warehouse, DbRole.EXPORTER, "select * from serving.publications")
    assert refused(warehouse, DbRole.EXPORTER, "create table ops.exporter_probe (i int)")


@pytest.mark.parametrize(
    "role", [DbRole.INGEST, DbRole.PUBLISHER, DbRole.READ_API, DbRole.ANALYST, DbRole.EXPORTER]
)
def test_only_dbt_may_make_a_schema_in_the_warehouse(warehouse: Settings, role: DbRole) -> None:
    assert refused(warehouse, role, f"create schema {DbRole.PUBLISHER.login}")
