"""Input found to give 500s now gets a clear 4xx, and nothing of it is stored."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from config.settings import Settings
from database import connections

Auth = Callable[..., dict[str, str]]
JSON = {"content-type": "application/json"}


def outbox_rows(settings: Settings, service: str) -> int:
    with connections.connect(settings, service) as conn:
        row = conn.execute("select count(*) from outbox").fetchone()
    assert row is not None
    count: int = row[0]
    return count


@pytest.mark.parametrize(
    "body",
    [
        b'{"customer_name": "\\ud800"}',  # a lone surrogate: valid JSON, not valid Unicode
        b'{"customer_name": "a\\u0000b"}',
        b'{"customer_name": "A", "items": [{"product_id": "p\\u0000", "quantity": 1}]}',
        b'{"customer_name": "A", "items": [{"product_id": "\\udfff", "quantity": 1}]}',
        b'{"customer_name": "\xff\xfe"}',  # not UTF-8 at all
    ],
    ids=["surrogate", "nul-name", "nul-product", "surrogate-product", "bad-utf8"],
)
def test_unstorable_text_in_an_order_is_refused_with_a_json_4xx(
    settings: Settings, orders: TestClient, auth: Auth, body: bytes
) -> None:
    before = outbox_rows(settings, "orders")
    r = orders.post("/orders", content=body, headers={**auth("hostile"), **JSON})
    assert r.status_code in (400, 422), r.text
    assert isinstance(r.json()["detail"], (str, list))
    assert r.headers["X-Request-Id"]
    assert outbox_rows(settings, "orders") == before


def test_a_nul_in_a_cancel_reason_is_422_and_the_order_stays(
    orders: TestClient, auth: Auth
) -> None:
    order = orders.post("/orders", json={"customer_name": "Nul"}, headers=auth("nul")).json()
    cancel = f"/orders/{order['order_id']}/cancel"
    r = orders.post(cancel, content=b'{"reason": "x\\u0000"}', headers={**auth("nul"), **JSON})
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "reason"]
    assert orders.post(cancel, json={"reason": "fine"}, headers=auth("nul")).status_code == 200


def test_an_invoice_url_longer_than_the_contract_allows_is_422(
    settings: Settings, invoices: TestClient, auth: Auth
) -> None:
    before = outbox_rows(settings, "invoices")
    body = {"order_id": str(uuid.uuid4()), "invoice_url": "https://x.example/" + "a" * 2500}
    r = invoices.post("/invoices", json=body, headers=auth("bill", "billing"))
    assert r.status_code == 422
    assert r.json()["detail"][0]["type"] == "string_too_long"
    assert outbox_rows(settings, "invoices") == before


def test_a_nul_in_a_user_id_query_is_422(read_api: TestClient, auth: Auth) -> None:
    r = read_api.get(
        "/orders-with-invoices", params={"userId": "a\x00"}, headers=auth("x", "analyst")
    )
    assert r.status_code == 422


def test_a_token_with_a_long_subject_is_401_not_500(
    settings: Settings, orders: TestClient, auth: Auth
) -> None:
    r = orders.post("/orders", json={"customer_name": "Long"}, headers=auth("s" * 201))
    assert r.status_code == 401
    assert r.json() == {"detail": "missing, invalid or expired bearer token"}
