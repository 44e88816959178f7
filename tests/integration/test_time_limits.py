"""Bounded time: a dead broker, a held lock or a restarted server ends in a clear failure."""

from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import Future
from datetime import UTC, datetime

import psycopg
import pytest

from config.settings import Settings
from database import connections
from database.locks import INGEST_LOCK, PUBLISH_LOCK
from database.names import WAREHOUSE_DATABASE
from ingest.batches import DeadlineExceeded
from ingest.job import run_ingest
from ingest.report import IngestReport
from pipeline.dbt import DbtFailed, run_dbt
from pipeline.publish import PublishFailed, publish_views
from pipeline.steps import dbt_build_step
from stack.broker import kafka_pid_file
from stack.lifecycle import Stack
from tests.integration.test_ingest import committed_offsets, produce_tracked
from tests.support.dbt_in_process import InProcessDbt
from tests.support.raw_events import ingest_events, stock_updated
from tests.support.throwaway_stack import throwaway_stack


def lock_is_free(settings: Settings, key: int) -> bool:
    with connections.connect(settings, WAREHOUSE_DATABASE, autocommit=True) as conn:
        row = conn.execute("select pg_try_advisory_lock(%s)", (key,)).fetchone()
        if row and row[0]:
            conn.execute("select pg_advisory_unlock(%s)", (key,))
        return bool(row and row[0])


def test_every_connection_bounds_its_statements_and_lock_waits(settings: Settings) -> None:
    with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
        assert conn.execute("show statement_timeout").fetchone() == ("5min",)
        assert conn.execute("show lock_timeout").fetchone() == ("10s",)
        with pytest.raises(psycopg.errors.QueryCanceled):
            conn.execute("set local statement_timeout = 200")
            conn.execute("select pg_sleep(5)")


def test_dbt_connections_bound_their_statements_and_lock_waits(settings: Settings) -> None:
    shown = run_dbt(
        settings,
        "show",
        "--inline",
        "select current_setting('statement_timeout') as statement_limit,"
        " current_setting('lock_timeout') as lock_limit",
        quiet=True,
    )
    assert "| 5min" in shown and "| 10s" in shown, shown


def test_a_dbt_build_gives_up_on_a_held_mart_and_leaves_it_whole(
    settings: Settings, dbt: InProcessDbt
) -> None:
    dbt("run", "--select", "+products")  # the mart exists and has folded everything
    product = f"sku-{uuid.uuid4().hex[:8]}"
    ingest_events(settings, [stock_updated(product, 1, 5, datetime(2026, 4, 2, tzinfo=UTC))])
    impatient = settings.model_copy(update={"pg_lock_timeout_s": 1.0})
    with connections.connect(settings, WAREHOUSE_DATABASE) as holder:
        holder.execute("lock table marts.products in access exclusive mode")
        # Were dbt's lock wait unbounded, the build would end (and pass) only after this.
        release = threading.Timer(240, holder.rollback)
        release.start()
        started = time.monotonic()
        try:
            with pytest.raises(DbtFailed, match="canceling statement due to lock timeout"):
                dbt_build_step(impatient)
            assert time.monotonic() - started < 200
        finally:
            release.cancel()
            holder.rollback()
    with connections.connect(settings, WAREHOUSE_DATABASE, autocommit=True) as conn:
        query = "select stock from marts.products where product_id = %s"
        assert conn.execute(query, (product,)).fetchall() == []  # nothing half-written
        leftovers = conn.execute(
            "select relname from pg_class join pg_namespace on pg_namespace.oid = relnamespace"
            " where nspname = 'marts' and strpos(relname, '__dbt_') > 0"
            # tables and views only: a table dbt built as <mart>__dbt_tmp and renamed keeps
            # its index name (<mart>__dbt_tmp_pkey), which is no leftover
            " and relkind in ('r', 'p', 'v')"
        ).fetchall()
        assert leftovers == []
        dbt("run", "--select", "products")  # the lock released, the next build takes it up
        assert conn.execute(query, (product,)).fetchall() == [(5,)]


def test_publish_gives_up_on_a_held_serving_table_and_frees_its_lock(
    settings: Settings, dbt: InProcessDbt
) -> None:
    dbt("run")
    publish_views(settings)  # serving.* exist
    # Only a view whose mart changed is published: give products a new row to publish.
    product = f"sku-{uuid.uuid4().hex[:8]}"
    ingest_events(settings, [stock_updated(product, 1, 5, datetime(2026, 4, 3, tzinfo=UTC))])
    dbt("run", "--select", "+products")
    impatient = settings.model_copy(update={"pg_lock_timeout_s": 1.0})
    with connections.connect(settings, WAREHOUSE_DATABASE) as holder:
        holder.execute("lock table serving.products in access exclusive mode")
        started = time.monotonic()
        with pytest.raises(PublishFailed, match=r"waited 1s .* nothing was published"):
            publish_views(impatient)
        assert time.monotonic() - started < 15
        holder.rollback()
    assert lock_is_free(settings, PUBLISH_LOCK)
    publish_views(settings)  # and the next publication goes through


def test_an_ingest_whose_broker_dies_ends_by_its_deadline_and_keeps_what_it_read(
    settings: Settings,
) -> None:
    stack = Stack(settings)
    run_ingest(settings)  # caught up: the run below reads only the events produced here
    produce_tracked(settings, 100_000)  # enough that the run is still reading when killed
    hurried = settings.model_copy(update={"ingest_deadline_s": 20.0})
    before = committed_offsets(settings)
    outcome: Future[IngestReport] = Future()

    def ingest() -> None:
        try:
            outcome.set_result(run_ingest(hurried, batch_size=200))
        except BaseException as exc:  # handed to the test thread
            outcome.set_exception(exc)

    started = time.monotonic()
    threading.Thread(target=ingest, daemon=True).start()
    while committed_offsets(settings) == before:
        assert not outcome.done(), "the run ended before the broker was stopped"
        assert time.monotonic() - started < 60, "nothing committed in 60 s"
        time.sleep(0.01)
    broker = kafka_pid_file(settings).process()
    assert broker is not None
    broker.kill()  # mid-run, at once: a graceful stop could outlast the rest of the run
    broker.wait(10)
    stack.stop_kafka()
    try:
        with pytest.raises(DeadlineExceeded, match="ingest deadline reached"):
            outcome.result(timeout=90)
        assert time.monotonic() - started < 20 + 60
        assert committed_offsets(settings) > before  # what was read before is kept
        assert lock_is_free(settings, INGEST_LOCK)
    finally:
        stack.start_kafka()
        stack.create_topics()
    run_ingest(settings)  # the broker came back empty: a reset, not a failure


def test_pooled_connections_survive_a_postgres_restart() -> None:
    with throwaway_stack(kafka=False) as own:
        pool = connections.open_pool(own, "postgres", max_size=2)
        try:
            with pool.connection() as conn:
                assert conn.execute("select 1").fetchone() == (1,)
            stack = Stack(own)
            stack.stop_postgres()
            stack.start_postgres()
            with pool.connection() as conn:  # the dead connection is checked and replaced
                assert conn.execute("select 1").fetchone() == (1,)
        finally:
            pool.close()
