"""The edge of every service, without a database: 401 before the body, 413, safe 500s."""

from __future__ import annotations

import asyncio
import time

import jwt
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from starlette.types import Message

from config.settings import Settings
from services.app import create_service_app
from services.orders.app import create_app as orders_app
from services.request_guard import RequestGuard
from services.tokens import TokenVerifier, issue_token

SETTINGS = Settings(jwt_secret="e" * 40, max_body_bytes=2048)


@pytest.fixture(scope="module")
def orders() -> TestClient:
    # No lifespan: no pool, so any request that got past the edge would fail loudly.
    return TestClient(orders_app(SETTINGS), raise_server_exceptions=False)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Basic YTpi"},
        bearer("not-a-jwt"),
        bearer(issue_token(Settings(jwt_secret="x" * 40), "ann")),
        bearer(issue_token(SETTINGS, "a" * 201)),
        bearer(jwt.encode({"sub": "ann", "iat": int(time.time()), "exp": 1}, "e" * 40)),
    ],
    ids=["none", "basic", "garbage", "wrong-key", "long-sub", "expired"],
)
def test_every_refused_token_gets_the_same_generic_401(
    orders: TestClient, headers: dict[str, str]
) -> None:
    r = orders.post("/orders", json={"customer_name": "Ann"}, headers=headers)
    assert r.status_code == 401
    assert r.json() == {"detail": "missing, invalid or expired bearer token"}
    assert r.headers["WWW-Authenticate"] == "Bearer"
    assert r.headers["X-Request-Id"]


def test_an_unauthenticated_oversized_body_is_refused_as_401_not_413(orders: TestClient) -> None:
    r = orders.post(
        "/orders", content=b"{" * 1_000_000, headers={"content-type": "application/json"}
    )
    assert r.status_code == 401


def test_a_body_above_the_limit_is_413_before_parsing(orders: TestClient) -> None:
    token = bearer(issue_token(SETTINGS, "ann"))
    r = orders.post("/orders", content=b"{" * 4096, headers=token)
    assert r.status_code == 413
    assert r.json() == {"detail": "request body above 2048 bytes"}


def _guarded(app: FastAPI) -> RequestGuard:
    return RequestGuard(app, verifier=TokenVerifier(SETTINGS), max_body_bytes=2048)


def _call(
    guard: RequestGuard, headers: list[tuple[bytes, bytes]], chunks: list[bytes]
) -> tuple[int, int]:
    """Drive the guard as a server would; return the status and how often it read the body."""
    sent: list[Message] = []
    pending = list(chunks)

    async def receive() -> Message:
        reads.append(1)
        body = pending.pop(0) if pending else b""
        return {"type": "http.request", "body": body, "more_body": bool(pending)}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/orders", "headers": headers}
    reads: list[int] = []
    asyncio.run(guard(scope, receive, send))
    status: int = sent[0]["status"]
    return status, len(reads)


def test_the_guard_never_reads_the_body_of_an_unauthenticated_request() -> None:
    inner = FastAPI()
    assert _call(_guarded(inner), [], [b"x" * 100]) == (401, 0)


def test_a_streamed_body_is_cut_off_once_it_passes_the_limit() -> None:
    token = f"Bearer {issue_token(SETTINGS, 'ann')}".encode()
    chunks = [b"x" * 1000] * 10  # no Content-Length: chunked upload
    assert _call(_guarded(FastAPI()), [(b"authorization", token)], chunks) == (413, 3)


def test_an_unexpected_error_is_a_json_500_with_request_id_and_counted() -> None:
    router = APIRouter()

    @router.get("/boom")
    def boom() -> None:
        raise RuntimeError("bug")

    app = create_service_app(
        name="edge_test", settings=SETTINGS, dbname="x", routers=[router], write_side=False
    )
    client = TestClient(app, raise_server_exceptions=False)
    labels = {"service": "edge_test", "method": "GET", "status": "500"}
    before = REGISTRY.get_sample_value("cqrsw_http_requests_total", labels) or 0
    r = client.get(
        "/boom", headers={**bearer(issue_token(SETTINGS, "ann")), "X-Request-Id": "req-7"}
    )
    assert r.status_code == 500
    assert r.headers["X-Request-Id"] == "req-7"
    assert r.json() == {"detail": "internal error", "request_id": "req-7"}
    assert REGISTRY.get_sample_value("cqrsw_http_requests_total", labels) == before + 1


def test_health_and_openapi_need_no_token(orders: TestClient) -> None:
    assert orders.get("/health").status_code == 200
    assert orders.get("/health/live").json() == {"status": "ok", "service": "orders"}
    assert orders.get("/openapi.json").status_code == 200


def test_a_service_without_its_pool_is_live_but_not_ready(orders: TestClient) -> None:
    ready = orders.get("/health/ready")  # no lifespan here: no pool
    assert ready.status_code == 503
    assert ready.json()["status"] == "not ready"
    assert ready.json()["checks"]["database"] == {
        "ok": False,
        "detail": "no connection pool (the service is starting or stopping)",
    }
    assert orders.get("/health/live").status_code == 200
