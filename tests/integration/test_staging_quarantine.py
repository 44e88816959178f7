"""dbt staging never fails on a row that raw accepted: a value no cast can take is set aside.

Rows are written as an older, looser contract let them into raw (the payload is jsonb, it
admits anything); the build goes on without them, lists them and warns.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson
import psycopg
import pytest

from config.settings import Settings
from database import connections
from database.names import WAREHOUSE_DATABASE
from ingest.rows import RawEvent
from ingest.warehouse import write_batch
from tests.support.dbt_in_process import InProcessDbt
from tests.support.raw_events import invoice_created, order_created, raw_row, stock_updated

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)


def loose(event: dict[str, Any], **payload: Any) -> RawEvent:
    """The raw row of ``event`` with payload fields today's contract would refuse."""
    row = raw_row(event)
    return row._replace(payload=orjson.dumps({**orjson.loads(row.payload), **payload}).decode())


def test_rows_no_cast_can_take_are_quarantined_and_the_build_goes_on(
    settings: Settings, dbt: InProcessDbt
) -> None:
    good_order, bad_order = str(uuid.uuid4()), order_created(str(uuid.uuid4()), "lo", T0)
    bad_order_id = loose(bad_order, order_id="not-a-uuid")
    whole, huge = f"sku-{uuid.uuid4().hex[:8]}", f"sku-{uuid.uuid4().hex[:8]}"
    bad_invoice = invoice_created(good_order, T0)
    bad_stock = stock_updated(huge, 1, 3, T0)
    rows = [
        raw_row(order_created(good_order, "lo", T0)),
        bad_order_id,
        loose(bad_invoice, invoice_id="INV-0001"),
        # v1 names the units `amount`, v2 `stock_amount`: staging casts either
        loose(stock_updated(whole, 1, 5, T0, schema_version=1), amount=5.0),  # a JSON integer
        loose(bad_stock, stock_amount=1e30),  # no bigint holds it
    ]
    with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
        written = write_batch(conn, rows, [], {})
        # raw's index on the order_id cast refuses a non-UUID: no staging cast fails on it
        [refused] = written.dead
        assert refused.offset == bad_order_id.kafka_offset and "uuid" in refused.reason
        with pytest.raises(psycopg.errors.InvalidTextRepresentation):  # the cast before
            conn.execute(
                "select (payload ->> 'invoice_id')::uuid from raw.invoice_created"
                " where event_id = %s",
                (bad_invoice["event_id"],),
            )
    built = dbt("build")  # every model and test: passes, with a warning
    [warning] = [r for r in built.results if r.node.name.startswith("no_rows_left_out_by_staging_")]
    assert str(warning.status) == "warn" and warning.failures >= 2

    with connections.connect(settings, WAREHOUSE_DATABASE, autocommit=True) as conn:
        quarantined = conn.execute(
            "select event_id::text, kafka_topic from staging.stg_raw__quarantined"
            " where event_id = any(%s::uuid[])",
            ([bad_invoice["event_id"], bad_stock["event_id"]],),
        ).fetchall()
        assert sorted(quarantined) == sorted(
            [
                (bad_invoice["event_id"], "invoice.created"),
                (bad_stock["event_id"], "stock.updated"),
            ]
        )
        served = "select stock from marts.products where product_id = %s"
        assert conn.execute(served, (whole,)).fetchall() == [(5,)]
        assert conn.execute(served, (huge,)).fetchall() == []
        order = "select status from marts.orders_with_invoices where order_id = %s"
        assert conn.execute(order, (good_order,)).fetchall() == [("created",)]
