"""Keyset pages: orders with filters, products, and one product's stock day by day."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from config.settings import Settings
from pipeline.publish import publish_views
from services.read_api.cursors import Cursors, filters_digest
from tests.support.dbt_in_process import InProcessDbt
from tests.support.raw_events import ingest_events, order_cancelled, order_created, stock_updated

Auth = Callable[..., dict[str, str]]
T0 = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
WEST_OF_PG = timezone(-timedelta(hours=16, minutes=12))  # PostgreSQL takes up to +-15:59
EAST_OF_PG = timezone(timedelta(hours=23, minutes=59))


def _all_pages(
    client: TestClient, url: str, params: dict[str, Any], headers: dict[str, str]
) -> list[list[Any]]:
    pages, cursor = [], None
    while True:
        r = client.get(
            url, params={**params, **({"cursor": cursor} if cursor else {})}, headers=headers
        )
        assert r.status_code == 200, r.text
        pages.append(r.json())
        cursor = r.headers.get("x-next-cursor")
        if cursor is None:
            return pages


@pytest.fixture(scope="module")
def orders_of_paula(settings: Settings, dbt: InProcessDbt) -> tuple[str, list[str], set[str]]:
    """Seven orders an hour apart, two at the same instant; the 2nd and 5th cancelled."""
    user = f"paula-{uuid.uuid4().hex[:6]}"
    at = [T0 + timedelta(hours=h) for h in (0, 1, 2, 3, 3, 4, 5)]
    ids = [str(uuid.uuid4()) for _ in at]
    events = [order_created(i, user, t) for i, t in zip(ids, at, strict=True)]
    events += [order_cancelled(ids[1], T0 + timedelta(days=1))]
    events += [order_cancelled(ids[4], T0 + timedelta(days=1))]
    ingest_events(settings, events)
    dbt("run")
    publish_views(settings)
    # Newest first; the two at 3h in descending id order.
    newest_first = sorted(zip(at, ids, strict=True), key=lambda p: (p[0], p[1]), reverse=True)
    return user, [i for _, i in newest_first], {ids[1], ids[4]}


def test_orders_page_newest_first_with_filters(
    orders_of_paula: tuple[str, list[str], set[str]], read_api: TestClient, auth: Auth
) -> None:
    user, newest_first, cancelled_ids = orders_of_paula
    url, headers = "/orders-with-invoices", auth(user)
    pages = _all_pages(read_api, url, {"userId": user, "limit": 2}, headers)
    assert [len(p) for p in pages] == [2, 2, 2, 1]
    assert [row["orderId"] for page in pages for row in page] == newest_first

    cancelled = _all_pages(
        read_api, url, {"userId": user, "limit": 1, "status": "cancelled"}, headers
    )
    assert [len(p) for p in cancelled] == [1, 1]
    assert {row["orderId"] for page in cancelled for row in page} == cancelled_ids
    assert all(row["status"] == "cancelled" for page in cancelled for row in page)
    assert all(row["updatedAt"] > row["createdAt"] for page in cancelled for row in page)

    window = {
        "userId": user,
        "limit": 3,
        "createdFrom": (T0 + timedelta(hours=1)).isoformat(),
        "createdTo": (T0 + timedelta(hours=4)).isoformat(),
    }
    in_window = [
        row["orderId"] for page in _all_pages(read_api, url, window, headers) for row in page
    ]
    assert in_window == newest_first[2:6]
    # The same window, written with offsets that RFC 3339 allows and timestamptz does not.
    far_offsets = {
        **window,
        "createdFrom": (T0 + timedelta(hours=1)).astimezone(WEST_OF_PG).isoformat(),
        "createdTo": (T0 + timedelta(hours=4)).astimezone(EAST_OF_PG).isoformat(),
    }
    assert [
        row["orderId"] for page in _all_pages(read_api, url, far_offsets, headers) for row in page
    ] == in_window


def test_bad_cursors_and_parameters_are_client_errors(
    orders_of_paula: tuple[str, list[str], set[str]], read_api: TestClient, auth: Auth
) -> None:
    user, _, _ = orders_of_paula
    url, headers = "/orders-with-invoices", auth(user)
    first = read_api.get(url, params={"userId": user, "limit": 1}, headers=headers)
    cursor = first.headers["x-next-cursor"]
    other_filters = {"userId": user, "limit": "1", "status": "created", "cursor": cursor}
    assert read_api.get(url, params=other_filters, headers=headers).status_code == 400
    for junk in ("junk", "WyJ4Il0", cursor[:-2] + "zz", "x" * 600):
        r = read_api.get(url, params={"userId": user, "cursor": junk}, headers=headers)
        assert r.status_code in (400, 422), (junk, r.status_code, r.text)
    for params in (
        {"status": "shipped"},
        {"createdFrom": "2026-04-01T00:00:00"},  # no time zone
        {"createdTo": "9999-12-31T23:00:00-16:12"},  # after the year 9999 in UTC
        {"createdFrom": "2026-04-02T00:00:00Z", "createdTo": "2026-04-01T00:00:00Z"},
        {"limit": 0},
    ):
        r = read_api.get(url, params={"userId": user, **params}, headers=headers)
        assert r.status_code == 422, (params, r.text)
    assert read_api.get("/products", params={"cursor": "%%"}, headers=headers).status_code == 400


def test_products_and_stock_history_page(
    settings: Settings, dbt: InProcessDbt, read_api: TestClient, auth: Auth
) -> None:
    prefix = f"sku-page-{uuid.uuid4().hex[:6]}"
    ingest_events(
        settings,
        [stock_updated(f"{prefix}-{n}", 1, n + 1, T0) for n in range(3)]
        # and one more operation of the first product on each of the next three days
        + [stock_updated(f"{prefix}-0", v, 1, T0 + timedelta(days=v - 1)) for v in (2, 3, 4)],
    )
    dbt("run")
    publish_views(settings)
    headers = auth("clerk")

    listed = [
        row for page in _all_pages(read_api, "/products", {"limit": 2}, headers) for row in page
    ]
    ids = [row["productId"] for row in listed]
    assert ids == sorted(set(ids))
    ours = [row for row in listed if row["productId"].startswith(prefix)]
    assert [(r["productId"], r["stock"]) for r in ours] == [
        (f"{prefix}-0", 4),
        (f"{prefix}-1", 2),
        (f"{prefix}-2", 3),
    ]

    url = f"/products/{prefix}-0/stock/history"
    days = [d for page in _all_pages(read_api, url, {"limit": 1}, headers) for d in page]
    assert [(d["day"], d["stock"]) for d in days] == [
        ("2026-04-01", 1),
        ("2026-04-02", 2),
        ("2026-04-03", 3),
        ("2026-04-04", 4),
    ]
    ranged = read_api.get(url, params={"from": "2026-04-02", "to": "2026-04-02"}, headers=headers)
    assert [(d["day"], d["netChange"]) for d in ranged.json()] == [("2026-04-02", 1)]
    assert ranged.headers["x-view"] == "product_stock_daily"
    missing = read_api.get("/products/no-such-sku/stock/history", headers=headers)
    assert missing.status_code == 404
    backwards = read_api.get(
        url, params={"from": "2026-04-04", "to": "2026-04-01"}, headers=headers
    )
    assert backwards.status_code == 422


def _forged(key: bytes, digest: str, *values: object) -> str:
    return Cursors(key).encode(digest, list(values))


def test_forged_damaged_and_foreign_cursors_are_400_before_any_query(
    settings: Settings, orders_of_paula: tuple[str, list[str], set[str]],
    read_api: TestClient, auth: Auth,
) -> None:  # fmt: skip
    user, _, _ = orders_of_paula
    headers = auth(user)
    wrong = b"a key this API does not hold, 32+ bytes long"
    history_digest = filters_digest(product_id="sku-1", since=None, until=None)
    orders_digest = filters_digest(user_id=user, status=None, created_from=None, created_to=None)
    issued = read_api.get(
        "/orders-with-invoices", params={"userId": user, "limit": 1}, headers=headers
    ).headers["x-next-cursor"]
    cases = [
        ("/products", _forged(wrong, filters_digest(), "sku\x00-1")),  # NUL, forged
        ("/products/sku-1/stock/history", _forged(wrong, history_digest, "9999-12-31")),
        ("/orders-with-invoices", issued[:-1]),  # truncated
        ("/orders-with-invoices", issued[:10] + ("A" if issued[10] != "A" else "B") + issued[11:]),
        ("/orders-with-invoices", _forged(wrong, orders_digest, T0.isoformat(), str(uuid.uuid4()))),
    ]
    for url, cursor in cases:
        r = read_api.get(url, params={"userId": user, "cursor": cursor}, headers=headers)
        assert r.status_code == 400, (url, cursor, r.status_code, r.text)
        assert "cursor" in r.json()["detail"]


def test_cursors_this_api_could_seal_never_reach_the_database_as_errors(
    settings: Settings, read_api: TestClient, auth: Auth
) -> None:
    """Even a sealed cursor is checked: a NUL id is refused, the last day there is ends a page."""
    key, headers = settings.read_token_secret, auth("clerk")
    nul = read_api.get(
        "/products", params={"cursor": _forged(key, filters_digest(), "sku\x00")}, headers=headers
    )
    assert nul.status_code == 400, nul.text
    digest = filters_digest(product_id="sku-1", since=None, until=None)
    last = read_api.get(
        "/products/sku-1/stock/history",
        params={"cursor": _forged(key, digest, "9999-12-31")},
        headers=headers,
    )
    assert last.status_code in (200, 503), last.text  # 503 only before any publication
    if last.status_code == 200:
        assert last.json() == []


@given(cursor=st.text(max_size=300))
@hypothesis_settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_no_cursor_string_is_a_server_error(cursor: str, read_api: TestClient, auth: Auth) -> None:
    headers = auth("clerk", "analyst")
    for url in ("/products", "/products/sku-1/stock/history", "/orders-with-invoices"):
        r = read_api.get(url, params={"userId": "clerk", "cursor": cursor}, headers=headers)
        assert r.status_code < 500, (url, cursor, r.status_code, r.text)
        assert r.status_code in (400, 422), (url, cursor, r.status_code)
