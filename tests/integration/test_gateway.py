"""Real requests through the local nginx gateway to the services started as `make up` does."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest

from config.settings import Settings
from services.tokens import issue_token
from stack.gateway import nginx_binary
from stack.lifecycle import Stack
from tests.support.throwaway_stack import free_port

REJECTED = "rejected at the gateway: missing or invalid bearer token"


@pytest.fixture(scope="module")
def gateway(settings: Settings) -> Iterator[httpx.Client]:
    """The four services and nginx on free ports, on the session's PostgreSQL and broker."""
    if nginx_binary() is None:
        pytest.fail("nginx is not installed: `make nginx` installs Debian's package")
    ports = ("orders", "invoices", "stock", "read_api", "gateway")
    local = settings.model_copy(update={f"{name}_port": free_port() for name in ports})
    # Low enough for a test to pass them quickly, high enough for the other tests here.
    local = local.model_copy(update={"gateway_token_rate": 20, "gateway_address_rate": 60})
    stack = Stack(local)
    where = stack.up(services=True, gateway=True)
    try:
        assert where["gateway"] == f"http://127.0.0.1:{local.gateway_port}", where
        with httpx.Client(base_url=where["gateway"], timeout=10) as client:
            yield client
    finally:
        stack.stop_started()


@pytest.fixture
def token(settings: Settings) -> dict[str, str]:
    signed = issue_token(settings, "alice", roles=("customer", "billing", "stock"))
    return {"Authorization": f"Bearer {signed}"}


def test_a_get_is_routed_to_the_read_api(gateway: httpx.Client, token: dict[str, str]) -> None:
    # Only the read API answers this: it checks userId against the token's subject.
    r = gateway.get("/orders-with-invoices", params={"userId": "bob"}, headers=token)
    assert r.status_code == 403, r.text
    assert r.json() == {"detail": "userId must be the token's subject (or role analyst)"}


def test_commands_are_routed_to_the_write_services(
    gateway: httpx.Client, token: dict[str, str]
) -> None:
    order = gateway.post("/orders", json={"customer_name": "Alice"}, headers=token)
    assert order.status_code == 201, order.text
    order_id = order.json()["order_id"]
    invoice = gateway.post("/invoices", json={"order_id": order_id}, headers=token)
    assert invoice.status_code == 201, invoice.text
    assert invoice.json()["order_id"] == order_id
    product = f"sku-{uuid.uuid4().hex[:8]}"
    stock = gateway.post(
        f"/products/{product}/stock-operations",
        json={"operation": "increase", "amount": 5},
        headers=token,
    )
    assert stock.status_code == 201, stock.text
    assert (stock.json()["product_id"], stock.json()["stock"]) == (product, 5)


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer not-a-jwt"}, {"Authorization": "Basic YWxpY2U6cHc="}],
    ids=["no token", "bad token", "not bearer"],
)
def test_a_request_without_a_valid_token_is_stopped_at_the_gateway(
    gateway: httpx.Client, headers: dict[str, str]
) -> None:
    for method, path in [("POST", "/orders"), ("GET", "/products/sku-1/stock")]:
        r = gateway.request(method, path, json={"customer_name": "Mallory"}, headers=headers)
        assert r.status_code == 401, (method, path, r.text)
        assert r.json() == {"detail": REJECTED}
        assert r.headers["WWW-Authenticate"] == "Bearer"


def test_an_expired_token_is_stopped_at_the_gateway(
    gateway: httpx.Client, settings: Settings
) -> None:
    expired = issue_token(settings, "alice", ttl_s=-60)
    r = gateway.post("/orders", json={}, headers={"Authorization": f"Bearer {expired}"})
    assert (r.status_code, r.json()) == (401, {"detail": REJECTED})


def test_the_gateway_adds_a_request_id_when_missing_and_keeps_a_given_one(
    gateway: httpx.Client, token: dict[str, str]
) -> None:
    # A service makes a dashed UUID when none arrives; nginx's ids are 32 hex digits, so this
    # one reached the service from the gateway and came back unchanged.
    made = gateway.post("/orders", json={"customer_name": "Alice"}, headers=token)
    assert made.status_code == 201, made.text
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["X-Request-Id"]), made.headers
    rejected = gateway.post("/orders", json={})
    assert re.fullmatch(r"[0-9a-f]{32}", rejected.headers["X-Request-Id"])
    given = gateway.post(
        "/orders", json={"customer_name": "Alice"}, headers={**token, "X-Request-Id": "req-42"}
    )
    assert given.headers["X-Request-Id"] == "req-42"
    unusable = gateway.post("/orders", json={}, headers={"X-Request-Id": "no spaces allowed"})
    assert re.fullmatch(r"[0-9a-f]{32}", unusable.headers["X-Request-Id"])


def test_reads_on_command_paths_and_unknown_paths_are_refused_at_the_gateway(
    gateway: httpx.Client, token: dict[str, str]
) -> None:
    assert gateway.get("/orders", headers=token).status_code == 405
    assert gateway.post("/orders-with-invoices", headers=token).status_code == 405
    assert gateway.get("/products/sku-1/stock-operations", headers=token).status_code == 405
    unknown = gateway.get("/admin", headers=token)
    assert unknown.status_code == 404
    assert unknown.json() == {"detail": "no route at the gateway for this path"}


def burst(gateway: httpx.Client, n: int, headers: dict[str, str]) -> list[httpx.Response]:
    return [
        gateway.get("/orders-with-invoices", params={"userId": "x"}, headers=headers)
        for _ in range(n)
    ]


def test_a_token_past_its_rate_gets_429_and_another_token_does_not(
    gateway: httpx.Client, settings: Settings
) -> None:
    hasty = {"Authorization": f"Bearer {issue_token(settings, 'hasty', roles=('customer',))}"}
    answers = burst(gateway, 80, hasty)  # a burst of 40 is absorbed, then 20 a second
    limited = [r for r in answers if r.status_code == 429]
    assert limited, [r.status_code for r in answers]
    assert limited[0].headers["Retry-After"] == "1"
    assert limited[0].json()["detail"].startswith("too many requests")
    assert {r.status_code for r in answers} <= {403, 429}  # never a 5xx
    calm = {"Authorization": f"Bearer {issue_token(settings, 'calm', roles=('customer',))}"}
    assert (
        gateway.get("/orders-with-invoices", params={"userId": "calm"}, headers=calm).status_code
        != 429
    )
    time.sleep(2.5)  # let the address's bucket refill for the tests after this one


def test_an_address_past_its_rate_gets_429_even_without_a_token(gateway: httpx.Client) -> None:
    answers = burst(gateway, 250, {})  # a burst of 120 is absorbed, then 60 a second
    assert {r.status_code for r in answers} == {401, 429}
    time.sleep(2.5)


def test_a_client_naming_other_addresses_in_x_real_ip_still_meets_its_own_limit(
    gateway: httpx.Client,
) -> None:
    """The local gateway is the edge: it believes no X-Real-IP (only a gateway behind the
    Kubernetes Ingress does, from the controller), so a client cannot spread its requests
    over addresses it makes up."""
    answers = [
        gateway.get("/orders-with-invoices", headers={"X-Real-IP": f"10.1.{i // 250}.{i % 250}"})
        for i in range(250)
    ]
    assert {r.status_code for r in answers} == {401, 429}
    time.sleep(2.5)
