"""Checks that cost what is new: the pipeline's checks read the rows since their last pass,
the daily audit reads every row, and publish and the freshness record read index ranges."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from config.database_settings import DbRole
from config.settings import Settings
from contracts.catalog import TOPICS, raw_table
from database import connections
from database.names import WAREHOUSE_DATABASE
from database.warehouse import MARTS
from pipeline import ops
from pipeline.audit import METRICS_FILE, AuditFailed, run_audit
from pipeline.publish import publish_views
from pipeline.steps import dbt_build_step
from quality import windows
from quality.gate import DataQualityFailed, run_gate_parts
from tests.support.raw_events import Event, ingest_events, order_created, stock_updated

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def pipeline_checks(settings: Settings) -> None:
    """What a pipeline run checks, in its order: dbt build with its tests, the gate."""
    dbt_build_step(settings)
    run_gate_parts(settings)


def test_a_planted_inconsistency_in_old_rows_fails_the_audit_not_the_pipeline(
    settings: Settings,
) -> None:
    old, new = f"sku-{uuid.uuid4().hex[:8]}", f"sku-{uuid.uuid4().hex[:8]}"
    ingest_events(settings, [stock_updated(old, 1, 5, T0), stock_updated(old, 2, -2, T0)])
    pipeline_checks(settings)
    dbt_window = windows.checked_below(settings, windows.DBT_CHECK)
    assert dbt_window > 0  # the passing build moved its window up
    with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
        txid = conn.execute(
            "select max(ingest_txid) from raw.stock_updated where aggregate_id = %s", (old,)
        ).fetchone()
    assert txid is not None and txid[0] < dbt_window  # the old rows are behind it

    # Planted in rows the last passing run checked: the mart drifts from its log (below zero,
    # in the row that build wrote: its tests saw it, so the next build's window starts above
    # it), and a raw event is changed in place to one from the future.
    with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
        conn.execute("update marts.products set stock = stock - 100 where product_id = %s", (old,))
        conn.execute(
            "update raw.stock_updated set occurred_at = now() + interval '1 day'"
            " where aggregate_id = %s and aggregate_version = 1",
            (old,),
        )
    try:
        ingest_events(settings, [stock_updated(new, 1, 4, T0 + timedelta(days=1))])
        pipeline_checks(settings)  # passes: it reads the new rows only
        # Not published here: a publication's newest-event time only moves forward, and the
        # planted event from the future would stay in the session warehouse's freshness.
        assert windows.checked_below(settings, windows.DBT_CHECK) > dbt_window

        with pytest.raises(AuditFailed) as failed:
            run_audit(settings)
        message = str(failed.value)
        assert "equals_signed_sum_of_log_products_stock" in message
        assert "not_negative_products_stock" in message
        assert "raw.stock_updated: FAILED" in message
        assert "occurred_at is not in the future" in message
        metrics = (settings.state_dir / "metrics" / METRICS_FILE).read_text()
        assert "cqrsw_audit_last_run_success 0.0" in metrics
    finally:
        with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
            conn.execute(
                "update marts.products set stock = stock + 100 where product_id = %s", (old,)
            )
            conn.execute(
                "update raw.stock_updated set occurred_at = %s where aggregate_id = %s",
                (T0, old),
            )


def test_a_failing_check_keeps_its_window_so_the_next_run_checks_the_rows_again(
    settings: Settings,
) -> None:
    product = f"sku-{uuid.uuid4().hex[:8]}"
    pipeline_checks(settings)
    before = windows.checked_below(settings, windows.check_name("raw"))
    future = datetime.now(UTC) + timedelta(days=1)
    ingest_events(settings, [stock_updated(product, 1, 3, future)])
    try:
        for _ in range(2):  # the second run looks at the same rows again
            with pytest.raises(DataQualityFailed, match="occurred_at is not in the future"):
                run_gate_parts(settings, ["raw"])
            assert windows.checked_below(settings, windows.check_name("raw")) == before
    finally:
        with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
            conn.execute("delete from raw.stock_updated where aggregate_id = %s", (product,))


# --- publish and the freshness record: index ranges only -----------------------------------


def seq_scans(settings: Settings) -> dict[str, int]:
    """Sequential scans so far of every raw event table (its partitions') and mart
    (cumulative statistics)."""
    names = [f"raw.{raw_table(t)}" for t in TOPICS] + [f"marts.{m.name}" for m in MARTS]
    with connections.connect(settings, WAREHOUSE_DATABASE, autocommit=True) as conn:
        conn.execute("select pg_stat_clear_snapshot()")
        rows = conn.execute(
            "select coalesce(i.inhparent, s.relid)::regclass::text, sum(s.seq_scan)"
            " from pg_stat_user_tables as s left join pg_inherits as i on i.inhrelid = s.relid"
            " where coalesce(i.inhparent, s.relid) = any(%s::regclass[]) group by 1",
            (names,),
        ).fetchall()
    return {str(name): int(count) for name, count in rows}


def settled_seq_scans(settings: Settings) -> dict[str, int]:
    """Backends flush their statistics when they end or go idle (at most once a second)."""
    time.sleep(1.5)
    return seq_scans(settings)


@pytest.fixture
def no_seq_scan_unless_forced(settings: Settings) -> Iterator[None]:
    """The publisher's sessions plan with sequential scans off: a plan keeps one only when
    no index can answer the query, whatever the tables' sizes here."""
    role = DbRole.PUBLISHER.login
    with connections.connect(settings, WAREHOUSE_DATABASE, autocommit=True) as conn:
        conn.execute(f"alter role {role} in database {WAREHOUSE_DATABASE} set enable_seqscan = off")
    try:
        yield
    finally:
        with connections.connect(settings, WAREHOUSE_DATABASE, autocommit=True) as conn:
            conn.execute(f"alter role {role} in database {WAREHOUSE_DATABASE} reset enable_seqscan")


def test_publish_and_the_freshness_record_scan_no_raw_table_or_mart(
    settings: Settings, no_seq_scan_unless_forced: None
) -> None:
    def new_events() -> list[Event]:
        order = str(uuid.uuid4())
        return [order_created(order, "u", T0), stock_updated(f"sku-{order[:8]}", 1, 2, T0)]

    ingest_events(settings, new_events())
    dbt_build_step(settings)
    publish_views(settings)  # a first publication copies a mart whole: not measured
    ingest_events(settings, new_events())
    dbt_build_step(settings)

    # The measurement can fail: a query no index answers shows up as a sequential scan.
    before = settled_seq_scans(settings)
    with connections.connect(settings, WAREHOUSE_DATABASE, role=DbRole.PUBLISHER) as conn:
        conn.execute("select count(*) from raw.stock_updated where producer = 'nobody'")
    assert settled_seq_scans(settings)["raw.stock_updated"] > before["raw.stock_updated"]

    before = settled_seq_scans(settings)
    published = publish_views(settings)
    ops.record_publication(settings, published, "test", f"test-{uuid.uuid4()}")
    after = settled_seq_scans(settings)

    with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
        modes = conn.execute(
            "select distinct on (view_name) mode from serving.publications"
            " order by view_name, id desc"
        ).fetchall()
    assert modes == [("upsert",)] * len(MARTS)  # what a run after 10,000 new events does
    scanned = {name: after[name] - before[name] for name in before if after[name] > before[name]}
    assert scanned == {}
