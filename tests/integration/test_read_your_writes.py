"""Read-your-writes across the batch boundary, and the freshness every answer carries."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

from fastapi.testclient import TestClient

from config.settings import Settings
from pipeline.publish import publish_views
from pipeline.steps import ingest_step
from services.position import PositionTokens, payload_of
from tests.support.dbt_in_process import InProcessDbt
from tests.support.relay import relay_all

Auth = Callable[..., dict[str, str]]


def test_a_write_is_not_yet_served_until_it_is_published(
    settings: Settings,
    dbt: InProcessDbt,
    orders: TestClient,
    read_api: TestClient,
    auth: Auth,
) -> None:
    user = f"rita-{uuid.uuid4().hex[:6]}"
    created = orders.post("/orders", json={"customer_name": "Rita"}, headers=auth(user))
    assert created.status_code == 201, created.text
    token = created.json()["position_token"]
    order_id = created.json()["order_id"]
    dbt("run")
    publish_views(settings)  # a publication that does not include the write yet

    def read() -> tuple[dict[str, str], list[str]]:
        r = read_api.get(
            "/orders-with-invoices",
            params={"userId": user},
            headers={**auth(user), "X-Position-Token": token},
        )
        assert r.status_code == 200, r.text
        return dict(r.headers), [row["orderId"] for row in r.json()]

    headers, rows = read()  # in the outbox
    assert (headers["x-position-included"], headers["x-position-stage"]) == (
        "false",
        "not-ingested",
    )
    assert 1 <= int(headers["retry-after"]) <= 3600
    assert rows == []

    assert relay_all(settings, "orders") >= 1  # in Kafka
    headers, rows = read()
    assert (headers["x-position-included"], headers["x-position-stage"]) == (
        "false",
        "not-ingested",
    )
    assert rows == []

    ingest_step(settings)  # in raw, not yet built and published
    headers, rows = read()
    assert (headers["x-position-included"], headers["x-position-stage"]) == ("false", "ingested")
    assert "retry-after" in headers
    assert rows == []

    dbt("run")
    publish_views(settings)
    headers, rows = read()
    assert (headers["x-position-included"], headers["x-position-stage"]) == ("true", "included")
    assert "retry-after" not in headers
    assert rows == [order_id]
    newest = datetime.fromisoformat(headers["x-view-newest-event-at"])
    published = datetime.fromisoformat(headers["x-view-published-at"])
    assert newest <= published
    row = read_api.get("/orders-with-invoices", params={"userId": user}, headers=auth(user))
    assert newest >= datetime.fromisoformat(row.json()[0]["updatedAt"])
    assert row.json()[0]["updatedAt"] == row.json()[0]["createdAt"]


def test_freshness_headers_and_view_lag(
    settings: Settings, dbt: InProcessDbt, stock: TestClient, read_api: TestClient, auth: Auth
) -> None:
    product, headers = f"sku-{uuid.uuid4().hex[:8]}", auth("clerk", "customer", "stock")
    changed = stock.post(
        f"/products/{product}/stock-operations",
        json={"operation": "increase", "amount": 4},
        headers=headers,
    )
    assert changed.status_code == 201, changed.text
    token = changed.json()["position_token"]
    relay_all(settings, "stock")
    ingest_step(settings)
    dbt("run")
    publish_views(settings)

    r = read_api.get(f"/products/{product}/stock", headers={**headers, "X-Position-Token": token})
    assert r.status_code == 200, r.text
    assert r.headers["x-view"] == "products"
    assert r.headers["x-position-included"] == "true"
    assert datetime.fromisoformat(r.headers["x-view-newest-event-at"]) >= datetime.fromisoformat(
        r.json()["lastOperationAt"]
    )
    # A stock write says nothing about the orders view.
    other = read_api.get(
        "/orders-with-invoices",
        params={"userId": "clerk"},
        headers={**headers, "X-Position-Token": token},
    )
    assert other.headers["x-position-included"] == "unrelated"

    fresh = read_api.get("/freshness", headers=headers)
    assert fresh.status_code == 200, fresh.text
    by_view = {v["view"]: v for v in fresh.json()}
    assert set(by_view) == {"orders_with_invoices", "products", "product_stock_daily"}
    assert by_view["products"]["lagSeconds"] >= 0
    assert by_view["products"]["publishedSecondsAgo"] >= 0
    assert "watermark" not in by_view["products"]
    assert read_api.get("/freshness").status_code == 401


def test_a_bad_position_token_is_a_400(
    settings: Settings, read_api: TestClient, auth: Auth
) -> None:
    where = payload_of(
        {"event_type": "stock.updated", "event_id": str(uuid.uuid4()),
         "aggregate_id": "sku-1", "aggregate_version": 1}
    )  # fmt: skip
    genuine = PositionTokens(settings.read_token_secret).token(where)
    flipped = genuine[:5] + ("A" if genuine[5] != "A" else "B") + genuine[6:]
    wrong_key = PositionTokens(b"a key no write service holds, 32+ bytes").token(where)
    for token in ("junk", "eyJhIjoxfQ", genuine[:-1], flipped, wrong_key, "x" * 600):
        r = read_api.get(
            "/products/sku-1/stock", headers={**auth("clerk"), "X-Position-Token": token}
        )
        assert r.status_code in (400, 422), (token, r.status_code, r.text)
        assert r.status_code == (422 if len(token) > 512 else 400)
        if r.status_code == 400:
            assert "position token" in r.json()["detail"]
    read = read_api.get(
        "/products/sku-1/stock", headers={**auth("clerk"), "X-Position-Token": genuine}
    )
    assert read.status_code in (200, 404, 503), read.text  # read: the token was accepted
