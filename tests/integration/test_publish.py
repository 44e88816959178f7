"""Write-audit-publish: readers see only marts that passed every check, published at once."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from config.settings import Settings
from database import connections
from database.names import WAREHOUSE_DATABASE
from database.warehouse import MARTS as VIEWS
from database.warehouse import PUBLICATIONS_CHANNEL
from pipeline.dbt import DbtFailed, run_dbt
from pipeline.publish import publish_views
from pipeline.steps import dbt_build_step, publish_step
from tests.support.dbt_in_process import InProcessDbt
from tests.support.raw_events import (
    ingest_events,
    invoice_created,
    order_created,
    stock_updated,
)

Auth = Callable[..., dict[str, str]]
T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
Row = tuple[object, ...]


def rows(settings: Settings, schema: str, keys: dict[str, list[str]]) -> dict[str, list[Row]]:
    """Rows of each view in ``schema`` whose first key column is in ``keys[view]``."""
    found = {}
    with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
        for view in VIEWS:
            found[view.name] = conn.execute(
                f"select * from {schema}.{view.name} where {view.key[0]}::text = any(%s)"
                f" order by {', '.join(view.key)}",
                (keys[view.name],),
            ).fetchall()
    return found


def serving_state(settings: Settings) -> list[list[Row]]:
    """Every row served, and the publication log."""
    queries = [f"select * from serving.{v.name} order by {', '.join(v.key)}" for v in VIEWS]
    queries.append("select * from serving.publications order by id")
    with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
        return [conn.execute(query).fetchall() for query in queries]


def test_publish_writes_only_the_rows_changed_since_the_last_publication(
    settings: Settings, dbt: InProcessDbt
) -> None:
    dbt("run")
    publish_views(settings)  # whatever earlier tests left is now published
    first, second, product = str(uuid.uuid4()), str(uuid.uuid4()), f"sku-{uuid.uuid4().hex[:8]}"
    ingest_events(
        settings,
        [
            order_created(first, "pat", T0),
            order_created(second, "pat", T0),
            invoice_created(first, T0 + timedelta(hours=1)),
            stock_updated(product, 1, 4, T0),
            stock_updated(product, 2, -1, T0 + timedelta(hours=2)),
        ],
    )
    dbt("run", "--select", "marts")

    written = publish_views(settings)

    assert written == {"orders_with_invoices": 2, "products": 1, "product_stock_daily": 1}
    keys = {
        "orders_with_invoices": [first, second],
        "products": [product],
        "product_stock_daily": [product],
    }
    published = rows(settings, "serving", keys)
    assert published == rows(settings, "marts", keys)
    with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
        statuses: dict[str, str] = dict(
            conn.execute(
                "select order_id::text, status from serving.orders_with_invoices"
                " where order_id::text = any(%s)",
                ([first, second],),
            ).fetchall()
        )
    assert statuses == {first: "invoiced", second: "created"}
    assert publish_views(settings) == {}  # nothing changed since: nothing published


def _publications(settings: Settings) -> dict[str, tuple[int, datetime, datetime]]:
    """Each view's latest publication: (id, published_at, checked_at)."""
    with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
        found = conn.execute(
            "select distinct on (view_name) view_name, id, published_at, checked_at"
            " from serving.publications order by view_name, id desc"
        ).fetchall()
    return {str(name): (int(id_), published, checked) for name, id_, published, checked in found}


def test_only_a_view_that_changed_is_published_again(
    settings: Settings, dbt: InProcessDbt, read_api: TestClient, auth: Auth
) -> None:
    dbt("run")
    publish_views(settings)
    before = _publications(settings)
    order = str(uuid.uuid4())
    ingest_events(settings, [order_created(order, "pat", T0)])  # orders only, no stock
    dbt("run", "--select", "marts")

    with connections.connect(settings, WAREHOUSE_DATABASE, autocommit=True) as listener:
        listener.execute(f"listen {PUBLICATIONS_CHANNEL}")
        written = publish_views(settings)
        announced = sorted(note.payload for note in listener.notifies(timeout=1, stop_after=3))

    assert written == {"orders_with_invoices": 1}
    assert announced == ["orders_with_invoices"]
    after = _publications(settings)
    assert after["orders_with_invoices"][0] > before["orders_with_invoices"][0]
    for view in ("products", "product_stock_daily"):
        (id_, published, checked), (old_id, old_published, _) = after[view], before[view]
        assert (id_, published) == (old_id, old_published)  # no new publication row
        assert checked > published  # but this run looked at it

    fresh = {v["view"]: v for v in read_api.get("/freshness", headers=auth("clerk")).json()}
    products = fresh["products"]
    assert datetime.fromisoformat(products["publishedAt"]) == before["products"][1]
    assert datetime.fromisoformat(products["checkedAt"]) == after["products"][2]
    orders = fresh["orders_with_invoices"]
    assert orders["checkedAt"] == orders["publishedAt"]


def test_a_failed_check_fails_the_run_and_leaves_the_served_views_unchanged(
    settings: Settings, read_api: TestClient, auth: Auth
) -> None:
    product = f"sku-{uuid.uuid4().hex[:8]}"
    ingest_events(settings, [stock_updated(product, 1, 5, T0)])
    dbt_build_step(settings)
    publish_step(settings)
    served = serving_state(settings)
    url, headers = f"/products/{product}/stock", auth("clerk")
    assert read_api.get(url, headers=headers).json()["stock"] == 5

    # The stock service refuses this (409); here it reached the warehouse anyway.
    oversell = stock_updated(product, 2, -8, T0 + timedelta(hours=1))
    ingest_events(settings, [oversell])
    try:
        with pytest.raises(DbtFailed, match="not_negative_products_stock"):
            dbt_build_step(settings)  # the pipeline stops here: publish never runs
            publish_step(settings)
        assert serving_state(settings) == served
        assert read_api.get(url, headers=headers).json()["stock"] == 5
    finally:
        # Repair as the runbook says: take the bad event out, rebuild the marts from raw.
        with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
            conn.execute(
                "delete from raw.stock_updated where event_id = %s", (oversell["event_id"],)
            )
            conn.commit()
        run_dbt(settings, "build", "--full-refresh", quiet=True)
        publish_step(settings)
    assert read_api.get(url, headers=headers).json() == {
        "productId": product,
        "stock": 5,
        "version": 1,
        "lastOperationAt": "2026-03-01T10:00:00Z",
        "asOf": None,
    }
