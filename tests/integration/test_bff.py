"""The BFF (no CQRS) and the read API (CQRS) give the same answer for the same user.

The orders and invoices services run as real uvicorn processes, since the BFF calls them
over HTTP; the read API answers from the views a pipeline pass published.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from config.settings import Settings
from pipeline.steps import dbt_build_step, ingest_step, publish_step
from services.bff.app import create_app as bff_app
from services.bff.settings import BffSettings
from services.invoices.bff_queries import MAX_ORDER_IDS
from services.order_owners import OrderOwners, aggregate, encode
from services.tokens import ANALYST, BILLING, STOCK, SUPPORT
from tests.support.relay import relay_all
from tests.support.throwaway_stack import free_port
from tests.support.uvicorn_process import uvicorn_process

Auth = Callable[..., dict[str, str]]


@pytest.fixture(scope="module")
def write_services(settings: Settings) -> Iterator[dict[str, str]]:
    """The orders and invoices services, each its own process on a free port."""
    env = {**settings.as_env(), "CQRSW_BFF_READS": "true"}
    with (
        uvicorn_process("services.orders.app:create_app", env) as orders_url,
        uvicorn_process("services.invoices.app:create_app", env) as invoices_url,
    ):
        yield {"orders": orders_url, "invoices": invoices_url}


@pytest.fixture(scope="module")
def bff(settings: Settings, write_services: dict[str, str]) -> Iterator[TestClient]:
    bff_settings = BffSettings(
        **settings.model_dump(),
        bff_orders_url=write_services["orders"],
        bff_invoices_url=write_services["invoices"],
    )
    with TestClient(bff_app(bff_settings)) as client:
        yield client


def test_the_bff_answers_what_the_read_api_serves(
    settings: Settings,
    orders: TestClient,
    invoices: TestClient,
    read_api: TestClient,
    bff: TestClient,
    auth: Auth,
) -> None:
    user = f"bea-{uuid.uuid4().hex[:6]}"
    customer, billing = auth(user), auth("biller", BILLING)
    early = str(uuid.uuid4())  # its invoice is issued before the order is placed

    def invoice(order_id: str) -> None:
        r = invoices.post("/invoices", json={"order_id": order_id}, headers=billing)
        assert r.status_code == 201, r.text

    def place(order_id: str | None = None) -> str:
        body = {"customer_name": "Bea", "items": [{"product_id": "sku-1", "quantity": 2}]}
        r = orders.post(
            "/orders",
            json={**body, **({"order_id": order_id} if order_id else {})},
            headers=customer,
        )
        assert r.status_code == 201, r.text
        return str(r.json()["order_id"])

    invoice(early)
    place(early)
    twice, plain, cancelled = place(), place(), place()
    invoice(twice)
    invoice(twice)
    invoice(cancelled)
    r = orders.post(f"/orders/{cancelled}/cancel", json={"reason": "late"}, headers=customer)
    assert r.status_code == 200, r.text
    relay_all(settings, "orders", "invoices")
    ingest_step(settings)
    dbt_build_step(settings)
    publish_step(settings)

    params = {"userId": user}
    cqrs = read_api.get("/orders-with-invoices", params=params, headers=customer)
    without_cqrs = bff.get("/orders-with-invoices", params=params, headers=customer)
    assert cqrs.status_code == without_cqrs.status_code == 200, (cqrs.text, without_cqrs.text)
    assert without_cqrs.json() == cqrs.json()
    statuses = {row["orderId"]: row["status"] for row in cqrs.json()}
    assert statuses == {
        early: "invoiced",
        twice: "invoiced",
        plain: "created",
        cancelled: "cancelled",
    }
    analyst = bff.get("/orders-with-invoices", params=params, headers=auth("ann", ANALYST))
    assert analyst.json() == cqrs.json()
    two = bff.get("/orders-with-invoices", params={**params, "limit": 2}, headers=customer)
    assert two.json() == cqrs.json()[:2]


def test_the_bff_refuses_what_the_read_api_refuses(bff: TestClient, auth: Auth) -> None:
    path, params = "/orders-with-invoices", {"userId": "dora"}
    assert bff.get(path, params=params).status_code == 401
    assert bff.get(path, params=params, headers=auth("eve")).status_code == 403
    assert bff.get(path, params=params, headers=auth("dora", STOCK)).status_code == 403
    too_many = bff.get(path, params={**params, "limit": 1001}, headers=auth("dora"))
    assert too_many.status_code == 422
    assert bff.get(path, headers=auth("dora")).status_code == 422
    nobody = bff.get(path, params=params, headers=auth("dora"))
    assert (nobody.status_code, nobody.json()) == (200, [])


def test_the_bff_reads_are_internal_but_guarded(
    write_services: dict[str, str], orders: TestClient, invoices: TestClient, auth: Auth
) -> None:
    # Services started without CQRSW_BFF_READS (the session's) do not serve them at all.
    assert orders.get("/internal/bff/orders", headers=auth("fay")).status_code == 404
    assert invoices.get("/internal/bff/invoices", headers=auth("fay")).status_code == 404
    with (
        httpx.Client(base_url=write_services["orders"]) as orders_bff,
        httpx.Client(base_url=write_services["invoices"]) as invoices_bff,
    ):
        for client in (orders_bff, invoices_bff):
            paths = client.get("/openapi.json").json()["paths"]
            assert not [p for p in paths if p.startswith("/internal")], paths
        path = "/internal/bff/orders"
        assert orders_bff.get(path, params={"userId": "fay"}).status_code == 401
        other = orders_bff.get(path, params={"userId": "gil"}, headers=auth("fay"))
        assert other.status_code == 403
        ids = [str(uuid.uuid4()) for _ in range(MAX_ORDER_IDS + 1)]
        path, customer = "/internal/bff/invoices", auth("fay")
        assert invoices_bff.get(path, params={"orderId": ids}, headers=customer).status_code == 422
        stock = invoices_bff.get(path, params={"orderId": ids[:3]}, headers=auth("fay", STOCK))
        assert stock.status_code == 403
        assert invoices_bff.get(path, headers=customer).status_code == 422
        bad = invoices_bff.get(path, params={"orderId": "not-a-uuid"}, headers=customer)
        assert bad.status_code == 422
        for reader in (ANALYST, SUPPORT, BILLING):
            none = invoices_bff.get(path, params={"orderId": ids[:3]}, headers=auth("ivy", reader))
            assert (none.status_code, none.json()) == (200, [])


def test_a_customer_reads_only_the_invoices_of_their_own_orders(
    settings: Settings,
    write_services: dict[str, str],
    orders: TestClient,
    invoices: TestClient,
    auth: Auth,
) -> None:
    def order_with_invoice(user: str) -> str:
        r = orders.post("/orders", json={"customer_name": user}, headers=auth(user))
        assert r.status_code == 201, r.text
        order_id = str(r.json()["order_id"])
        r = invoices.post("/invoices", json={"order_id": order_id}, headers=auth("b", BILLING))
        assert r.status_code == 201, r.text
        return order_id

    mine, theirs = order_with_invoice("kim"), order_with_invoice("lou")
    owners = OrderOwners(settings.read_token_secret)

    def proof(user: str, *order_ids: str) -> str:
        return encode(aggregate(owners.tag(user, uuid.UUID(o)) for o in order_ids))

    path, kim = "/internal/bff/invoices", auth("kim")
    with (
        httpx.Client(base_url=write_services["orders"]) as orders_bff,
        httpx.Client(base_url=write_services["invoices"]) as invoices_bff,
    ):
        # The orders service's answer carries the tag the BFF combines into the proof.
        listed = orders_bff.get("/internal/bff/orders", params={"userId": "kim"}, headers=kim)
        assert listed.status_code == 200, listed.text
        assert [o["owner_tag"] for o in listed.json()] == [proof("kim", mine)]

        def ask(*order_ids: str, **extra: str) -> httpx.Response:
            return invoices_bff.get(path, params={"orderId": order_ids, **extra}, headers=kim)

        own = ask(mine, proof=proof("kim", mine))
        assert own.status_code == 200, own.text
        assert [i["order_id"] for i in own.json()] == [mine]
        refused = {
            "no proof": ask(theirs),
            "no proof, own order": ask(mine),
            "their order, their proof": ask(theirs, proof=proof("lou", theirs)),
            "own proof stretched": ask(mine, theirs, proof=proof("kim", mine)),
            "forged": ask(theirs, proof=encode(bytes(32))),
            "not a proof": ask(theirs, proof="%00<script>"),
        }
        assert {why: r.status_code for why, r in refused.items()} == dict.fromkeys(refused, 403)
        assert ask(theirs, proof="x" * 44).status_code == 422
        support = invoices_bff.get(path, params={"orderId": theirs}, headers=auth("sam", SUPPORT))
        assert [i["order_id"] for i in support.json()] == [theirs]


def test_the_bff_says_when_a_write_service_is_down(settings: Settings, auth: Auth) -> None:
    gone = f"http://127.0.0.1:{free_port()}"
    down = BffSettings(**settings.model_dump(), bff_orders_url=gone, bff_invoices_url=gone)
    with TestClient(bff_app(down)) as client:
        r = client.get("/orders-with-invoices", params={"userId": "hal"}, headers=auth("hal"))
    assert r.status_code == 503
    assert r.headers["Retry-After"] == "1"
    assert "orders service is unavailable" in r.json()["detail"]
