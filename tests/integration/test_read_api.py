"""The read API serves the published views: stock now and as of a day, orders per user."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from fastapi.testclient import TestClient

from config.settings import Settings
from pipeline.publish import publish_views
from pipeline.steps import dbt_build_step, ingest_step, publish_step
from services.read_api import product_queries
from services.read_api.freshness_cache import KEPT_ANSWERS_BOUND_S
from services.read_api.serving import NotPublished
from tests.support.dbt_in_process import InProcessDbt
from tests.support.raw_events import ingest_events, order_created, stock_updated
from tests.support.relay import relay_all

Auth = Callable[..., dict[str, str]]
T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def test_product_stock_now_and_as_of_a_day(
    settings: Settings, dbt: InProcessDbt, read_api: TestClient, auth: Auth
) -> None:
    product = f"sku-{uuid.uuid4().hex[:8]}"
    ingest_events(
        settings,
        [
            stock_updated(product, 1, 10, T0),
            stock_updated(product, 2, -4, T0 + timedelta(days=2, hours=-1)),
            stock_updated(product, 3, 1, T0 + timedelta(days=2, hours=5)),
        ],
    )
    dbt("run")
    publish_views(settings)
    url, headers = f"/products/{product}/stock", auth("clerk")

    now = read_api.get(url, headers=headers)
    assert now.status_code == 200, now.text
    assert now.json() == {
        "productId": product,
        "stock": 7,
        "version": 3,
        "lastOperationAt": "2026-03-03T15:00:00Z",
        "asOf": None,
    }

    def as_of(day: str) -> tuple[int, int, str | None]:
        r = read_api.get(url, params={"asOf": day}, headers=headers)
        assert r.status_code == 200, r.text
        assert r.json()["asOf"] == day
        return r.json()["stock"], r.json()["version"], r.json()["lastOperationAt"]

    assert as_of("2026-02-28") == (0, 0, None)
    assert as_of("2026-03-01") == (10, 1, "2026-03-01T10:00:00Z")
    assert as_of("2026-03-02") == (10, 1, "2026-03-01T10:00:00Z")
    assert as_of("2026-03-03") == (7, 3, "2026-03-03T15:00:00Z")
    assert as_of("2030-01-01") == (7, 3, "2026-03-03T15:00:00Z")


def test_stock_commands_reach_the_read_api_through_the_pipeline(
    settings: Settings, stock: TestClient, read_api: TestClient, auth: Auth
) -> None:
    product, headers = f"sku-{uuid.uuid4().hex[:8]}", auth("clerk", "stock")
    for operation, amount in (("increase", 20), ("decrease", 5), ("increase", 3)):
        r = stock.post(
            f"/products/{product}/stock-operations",
            json={"operation": operation, "amount": amount},
            headers=headers,
        )
        assert r.status_code == 201, r.text
    refused = stock.post(
        f"/products/{product}/stock-operations",
        json={"operation": "decrease", "amount": 100},
        headers=headers,
    )
    assert refused.status_code == 409
    assert relay_all(settings, "stock") >= 3
    ingest_step(settings)
    dbt_build_step(settings)
    publish_step(settings)

    r = read_api.get(f"/products/{product}/stock", headers=headers)
    assert r.status_code == 200, r.text
    assert (r.json()["stock"], r.json()["version"]) == (18, 3)
    today = datetime.now(UTC).date().isoformat()
    r = read_api.get(f"/products/{product}/stock", params={"asOf": today}, headers=headers)
    assert (r.json()["stock"], r.json()["asOf"]) == (18, today)


def test_stock_route_refuses_what_it_cannot_answer(read_api: TestClient, auth: Auth) -> None:
    headers = auth("clerk")
    assert read_api.get("/products/no-such-sku/stock", headers=headers).status_code == 404
    assert read_api.get("/products/sku-1/stock").status_code == 401
    bad_day = read_api.get("/products/sku-1/stock", params={"asOf": "yesterday"}, headers=headers)
    assert bad_day.status_code == 422
    assert read_api.get("/products/sku%20'1/stock", headers=headers).status_code == 422


def test_orders_are_read_from_the_published_views_only(
    settings: Settings, dbt: InProcessDbt, read_api: TestClient, auth: Auth
) -> None:
    user, order_id, older = f"quinn-{uuid.uuid4().hex[:6]}", str(uuid.uuid4()), str(uuid.uuid4())
    # v2 records the order's channel; a v1 order (before it existed) reads as 'unknown'.
    events = [order_created(order_id, user, T0), order_created(older, user, T0, schema_version=1)]
    ingest_events(settings, events)
    dbt("run")  # built and in marts, but not published yet

    def listed() -> dict[str, str]:
        r = read_api.get("/orders-with-invoices", params={"userId": user}, headers=auth(user))
        assert r.status_code == 200, r.text
        return {row["orderId"]: row["channel"] for row in r.json()}

    assert listed() == {}
    publish_views(settings)
    # The empty answer may be kept until the publication is announced (a bounded moment).
    deadline = time.monotonic() + KEPT_ANSWERS_BOUND_S + 2
    while not listed() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert listed() == {order_id: "api", older: "unknown"}
    documented = read_api.get("/openapi.json").json()["components"]["schemas"]
    assert documented["OrderWithInvoice"]["properties"]["channel"]["type"] == "string"


def test_nothing_published_yet_is_a_503_not_a_crash(settings: Settings) -> None:
    # The orders database has no serving schema: as a fresh warehouse before its first run.
    async def read() -> None:
        dsn = settings.dsn("orders")
        async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
            await product_queries.product_stock(conn, "sku-1")

    with pytest.raises(NotPublished):
        asyncio.run(read())
