"""One path through every layer: HTTP command -> outbox -> Kafka -> raw -> dbt -> serving -> API."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from fastapi.testclient import TestClient

from config.settings import Settings
from pipeline.steps import dbt_build_step, ingest_step, publish_step
from tests.support.relay import relay_all

Auth = Callable[..., dict[str, str]]


def test_command_to_read_api(
    settings: Settings,
    orders: TestClient,
    invoices: TestClient,
    read_api: TestClient,
    auth: Auth,
) -> None:
    user = f"carol-{uuid.uuid4().hex[:6]}"
    early = str(uuid.uuid4())

    # The invoice reaches the warehouse before its order does.
    r = invoices.post("/invoices", json={"order_id": early}, headers=auth("bill", "billing"))
    assert r.status_code == 201, r.text
    early_url = r.json()["invoice_url"]
    assert relay_all(settings, "invoices") >= 1
    first = ingest_step(settings)
    assert first["topics"]["invoice.created"]["rows"] >= 1
    dbt_build_step(settings)
    publish_step(settings)
    assert (
        read_api.get("/orders-with-invoices", params={"userId": user}, headers=auth(user)).json()
        == []
    )

    r = orders.post(
        "/orders",
        json={
            "order_id": early,
            "customer_name": "Carol",
            "items": [{"product_id": "p", "quantity": 1}],
        },
        headers=auth(user),
    )
    assert r.status_code == 201, r.text
    plain = orders.post("/orders", json={"customer_name": "Carol"}, headers=auth(user)).json()[
        "order_id"
    ]
    paid = orders.post("/orders", json={"customer_name": "Carol"}, headers=auth(user)).json()[
        "order_id"
    ]
    r = invoices.post(
        "/invoices",
        json={"order_id": paid, "invoice_url": "https://billing.example.com/inv/9.pdf"},
        headers=auth("bill", "billing"),
    )
    assert r.status_code == 201, r.text
    gone = orders.post("/orders", json={"customer_name": "Carol"}, headers=auth(user)).json()[
        "order_id"
    ]
    assert (
        orders.post(f"/orders/{gone}/cancel", json={"reason": "no"}, headers=auth(user)).status_code
        == 200
    )
    relay_all(settings, "orders", "invoices")
    ingest_step(settings)
    dbt_build_step(settings)
    publish_step(settings)

    r = read_api.get("/orders-with-invoices", params={"userId": user}, headers=auth(user))
    assert r.status_code == 200, r.text
    rows = {
        row["orderId"]: (row["customerName"], row["status"], row["invoiceUrl"]) for row in r.json()
    }
    assert rows == {
        early: ("Carol", "invoiced", early_url),
        plain: ("Carol", "created", None),
        paid: ("Carol", "invoiced", "https://billing.example.com/inv/9.pdf"),
        gone: ("Carol", "cancelled", None),
    }
    assert all(row["userId"] == user for row in r.json())
    newest_first = [row["createdAt"] for row in r.json()]
    assert newest_first == sorted(newest_first, reverse=True)


def test_read_api_serves_only_the_callers_rows(read_api: TestClient, auth: Auth) -> None:
    r = read_api.get("/orders-with-invoices", params={"userId": "alice"}, headers=auth("mallory"))
    assert r.status_code == 403
    assert read_api.get("/orders-with-invoices", params={"userId": "alice"}).status_code == 401


def test_malformed_command_gets_422_naming_the_field(orders: TestClient, auth: Auth) -> None:
    r = orders.post("/orders", json={"customer_name": "", "items": []}, headers=auth("dave"))
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "customer_name"]
    r = orders.post(
        "/orders", json={"customer_name": "D", "items": [{"quantity": 0}]}, headers=auth("dave")
    )
    assert r.status_code == 422
    assert {tuple(e["loc"]) for e in r.json()["detail"]} == {
        ("body", "items", 0, "product_id"),
        ("body", "items", 0, "quantity"),
    }
