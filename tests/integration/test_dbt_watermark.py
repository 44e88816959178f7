"""The incremental watermark skips no row when ingest transactions overlap."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from config.settings import Settings
from database import connections
from database.names import WAREHOUSE_DATABASE
from tests.support.dbt_in_process import InProcessDbt
from tests.support.raw_events import ingest_events, order_created, stock_updated, write_events

T0 = datetime(2026, 2, 2, 9, 0, tzinfo=UTC)


def stock_of(settings: Settings, product: str) -> int | None:
    with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
        row = conn.execute(
            "select stock from marts.products where product_id = %s", (product,)
        ).fetchone()
    return None if row is None else int(row[0])


def has_order(settings: Settings, order_id: str) -> bool:
    with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
        found = conn.execute(
            "select 1 from marts.orders_with_invoices where order_id = %s", (order_id,)
        ).fetchone()
    return found is not None


def batch_of(settings: Settings, table: str, aggregate_id: str) -> tuple[int, int]:
    with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
        row = conn.execute(
            f"select ingest_batch_id, ingest_txid from raw.{table} where aggregate_id = %s",
            (aggregate_id,),
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def test_rows_of_a_transaction_that_commits_late_are_folded_by_the_next_run(
    settings: Settings, dbt: InProcessDbt
) -> None:
    dbt("run")
    slow_product, fast_product = f"sku-{uuid.uuid4().hex[:8]}", f"sku-{uuid.uuid4().hex[:8]}"
    order_id = str(uuid.uuid4())

    with connections.connect(settings, WAREHOUSE_DATABASE) as slow, slow.transaction():
        # The slow ingest transaction writes first, so it draws the lower batch id and
        # transaction id, and stays open while a faster one commits and dbt runs.
        write_events(slow, [stock_updated(slow_product, 1, 5, T0)])
        ingest_events(
            settings, [stock_updated(fast_product, 1, 7, T0), order_created(order_id, "u", T0)]
        )
        dbt("run")
        # Committed, but above the horizon while the slow transaction is open: deferred.
        assert stock_of(settings, fast_product) is None
        assert not has_order(settings, order_id)

    slow_batch, slow_txid = batch_of(settings, "stock_updated", slow_product)
    fast_batch, fast_txid = batch_of(settings, "stock_updated", fast_product)
    # The trap a max(batch id) watermark falls into: the later-committed rows have the
    # lower id, so a run that saw the fast batch would have moved past the slow one.
    assert slow_batch < fast_batch and slow_txid < fast_txid

    dbt("run", "--select", "marts")
    assert stock_of(settings, slow_product) == 5
    assert stock_of(settings, fast_product) == 7
    assert has_order(settings, order_id)

    dbt("run", "--select", "marts")  # nothing new: nothing folded twice
    assert stock_of(settings, slow_product) == 5
    assert stock_of(settings, fast_product) == 7


def test_an_open_transaction_in_another_database_does_not_hold_the_views_back(
    settings: Settings, dbt: InProcessDbt
) -> None:
    product = f"sku-{uuid.uuid4().hex[:8]}"
    with connections.connect(settings, "orders") as other, other.transaction():
        other.execute("select pg_current_xact_id()")  # holds a transaction id, elsewhere
        ingest_events(settings, [stock_updated(product, 1, 3, T0)])
        dbt("run")
        assert stock_of(settings, product) == 3
