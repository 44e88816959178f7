"""A rebuild from a date (dbt var ``rebuild_from``) recomputes from the raw log every mart row
that depends on an event on or after that day, publishes them, and leaves the rest alone."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest

from config.settings import Settings
from database import connections
from database.names import WAREHOUSE_DATABASE
from pipeline.dbt import DbtFailed
from pipeline.publish import publish_views
from tests.integration.test_dbt_full_refresh import KEYS, Rows, mart_rows
from tests.support.dbt_in_process import InProcessDbt
from tests.support.raw_events import (
    ingest_events,
    invoice_created,
    order_cancelled,
    order_created,
    stock_updated,
)

REBUILD_FROM = date(2026, 5, 10)
Controls = dict[str, set[tuple[object, ...]]]


def at(day: int, hour: int = 12) -> datetime:
    return datetime(2026, 5, day, hour, tzinfo=UTC)


def rebuild_vars(value: str) -> str:
    return "{rebuild_from: '" + value + "'}"


def warehouse(settings: Settings, query: str, *params: Any) -> list[tuple[Any, ...]]:
    with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
        cur = conn.execute(query, params)
        return cur.fetchall() if cur.description else []


def watermarks(settings: Settings) -> dict[str, int]:
    """The latest horizon each mart was changed at."""
    found = {}
    for view in KEYS:
        rows = warehouse(
            settings, f"select coalesce(max(changed_at_watermark), 0) from marts.{view}"
        )
        found[view] = int(rows[0][0])
    return found


def split(rows: Rows, controls: Controls) -> tuple[Rows, Rows]:
    """The rows of the control keys, and all the others."""
    kept: Rows = {}
    others: Rows = {}
    for view, found in rows.items():
        width = len(KEYS[view])
        kept[view] = [row for row in found if row[:width] in controls[view]]
        others[view] = [row for row in found if row[:width] not in controls[view]]
    return kept, others


def test_rebuild_from_a_date_repairs_the_rows_after_it_and_only_those(
    settings: Settings, dbt: InProcessDbt
) -> None:
    dbt("run")
    dbt("run", "--select", "marts", "--full-refresh")  # whatever earlier tests left: from raw
    tag = uuid.uuid4().hex[:8]
    early, late, fresh = f"sku-early-{tag}", f"sku-late-{tag}", f"sku-fresh-{tag}"
    early_order, cancelled_order, invoiced_order = (str(uuid.uuid4()) for _ in range(3))
    ingest_events(
        settings,
        [
            stock_updated(early, 1, 10, at(1)),
            stock_updated(early, 2, -4, at(2)),
            stock_updated(late, 1, 20, at(1)),
            stock_updated(late, 2, -5, at(5)),
            order_created(early_order, f"u-{tag}", at(1)),
            invoice_created(early_order, at(2)),
            order_created(cancelled_order, f"u-{tag}", at(3)),
            order_created(invoiced_order, f"u-{tag}", at(4)),
        ],
    )
    dbt("run", "--select", "marts")
    ingest_events(
        settings,
        [
            stock_updated(late, 3, 7, at(10, 0)),  # the first instant of the rebuild date
            stock_updated(late, 4, -2, at(12)),
            order_cancelled(cancelled_order, at(11)),
            invoice_created(invoiced_order, at(10)),
        ],
    )
    dbt("run", "--select", "marts")

    # What a faulty fold could have left behind, and published.
    corrupt = [
        ("products", "stock = stock + 100", "product_id = %s", late),
        ("products", "stock = stock + 100", "product_id = %s", early),
        ("product_stock_daily", "stock = stock + 100", "product_id = %s and day >= %s", late),
        ("product_stock_daily", "net_change = 0", "product_id = %s", early),
        ("orders_with_invoices", "status = 'created'", "order_id = %s", cancelled_order),
        (
            "orders_with_invoices",
            "status = 'created', invoice_id = null, invoice_url = null",
            "order_id = %s",
            invoiced_order,
        ),
        ("orders_with_invoices", "status = 'cancelled'", "order_id = %s", early_order),
    ]
    with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
        for view, change, where, key in corrupt:
            params = (key, REBUILD_FROM) if "day" in where else (key,)
            changed = conn.execute(f"update marts.{view} set {change} where {where}", params)
            assert changed.rowcount >= 1, (view, key)
    corrupted = mart_rows(settings)
    controls: Controls = {
        "products": {(early,)},
        "product_stock_daily": {(early, date(2026, 5, 1)), (early, date(2026, 5, 2))},
        "orders_with_invoices": {(uuid.UUID(early_order),)},
    }

    # An empty var is no rebuild: an ordinary incremental run, nothing new, nothing repaired.
    dbt("run", "--select", "marts", "--vars", rebuild_vars(""))
    assert mart_rows(settings) == corrupted

    # In the same run as the rebuild, the window still folds what was ingested since:
    # a new product, and a late operation of the rebuilt product dated before the date.
    ingest_events(settings, [stock_updated(fresh, 1, 3, at(4)), stock_updated(late, 5, 1, at(3))])
    before = watermarks(settings)
    dbt("run", "--select", "marts", "--vars", rebuild_vars(REBUILD_FROM.isoformat()))
    rebuilt = mart_rows(settings)
    horizon = watermarks(settings)

    dbt("run", "--select", "marts", "--full-refresh")
    refreshed = mart_rows(settings)

    rebuilt_controls, rebuilt_others = split(rebuilt, controls)
    refreshed_controls, refreshed_others = split(refreshed, controls)
    # Every row but the controls equals the full refresh from raw, row for row
    assert rebuilt_others == refreshed_others
    # The controls, of keys with events only before the date, stay as they were, wrong
    assert rebuilt_controls == split(corrupted, controls)[0]
    assert all(rebuilt_controls[view] != refreshed_controls[view] for view in controls)
    assert all(horizon[view] > before[view] for view in before)  # rows were rewritten
    assert (fresh, 3) in {row[:2] for row in rebuilt["products"]}
    assert (late, 21) in {row[:2] for row in rebuilt["products"]}  # 20 - 5 + 7 - 2 + 1


def test_a_rebuild_is_published_with_the_run_horizon(settings: Settings, dbt: InProcessDbt) -> None:
    """Rebuilt rows carry the rebuild's horizon, so the publish step copies them to serving."""
    dbt("run")
    product = f"sku-pub-{uuid.uuid4().hex[:8]}"
    ingest_events(
        settings, [stock_updated(product, 1, 9, at(20)), stock_updated(product, 2, -1, at(21))]
    )
    dbt("run", "--select", "marts")
    warehouse(settings, "update marts.products set stock = 0 where product_id = %s", product)
    publish_views(settings)
    served = "select stock from serving.products where product_id = %s"
    assert warehouse(settings, served, product) == [(0,)]  # a bad row went out

    # Unquoted, YAML reads the value as a date rather than a string: the same rebuild.
    dbt("run", "--select", "marts", "--vars", "{rebuild_from: 2026-05-21}")
    published = publish_views(settings)

    assert published["products"] >= 1
    assert warehouse(settings, served, product) == [(8,)]
    rows = warehouse(
        settings,
        "select marts.changed_at_watermark, serving.changed_at_watermark"
        " from marts.products as marts join serving.products as serving using (product_id)"
        " where product_id = %s",
        product,
    )
    assert rows == [(watermarks(settings)["products"],) * 2]


@pytest.mark.parametrize(
    "value", ["2026-02-30", "yesterday", "2026-5-1", "20260501", "2026-05-01T00:00"]
)
def test_a_rebuild_date_that_is_not_a_date_fails_the_run(
    settings: Settings, dbt: InProcessDbt, value: str
) -> None:
    dbt("run")
    before = watermarks(settings)
    with pytest.raises(DbtFailed, match="rebuild_from must be a UTC date YYYY-MM-DD") as failed:
        dbt("run", "--select", "marts", "--vars", rebuild_vars(value))
    assert value in str(failed.value)
    assert watermarks(settings) == before  # no mart was rebuilt, in full or in part
