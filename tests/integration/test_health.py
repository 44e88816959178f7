"""Liveness and readiness: live answers without IO, ready says which dependency is missing."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from config.settings import Settings
from services.auth import CUSTOMER
from services.health import READY_PATH, READY_TIMEOUT_S
from services.orders.app import create_app as orders_app
from services.outbox import Relay
from services.read_api.app import create_app as read_api_app
from services.tokens import issue_token
from stack.lifecycle import Stack
from tests.support.throwaway_stack import throwaway_stack


@pytest.fixture(scope="module")
def own() -> Iterator[Settings]:
    """A PostgreSQL of this module's own: the tests stop it. No broker: nothing here sends."""
    with throwaway_stack(kafka=False) as settings:
        yield settings


def test_every_service_is_live_and_ready_when_its_database_answers(
    orders: TestClient, invoices: TestClient, stock: TestClient, read_api: TestClient
) -> None:
    for client in (orders, invoices, stock, read_api):
        for path in ("/health", "/health/live"):
            assert client.get(path).json()["status"] == "ok"
        ready = client.get(READY_PATH)
        assert ready.status_code == 200, ready.text
        assert ready.json()["checks"]["database"]["ok"] is True
        assert "relay" not in ready.json()["checks"]  # the session's relays are off


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # expected
def test_ready_turns_503_when_the_relay_thread_died(
    own: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(self: Relay) -> int:
        raise SystemExit("the relay crashed")  # ends the thread: run_forever catches Exception

    monkeypatch.setattr(Relay, "drain", crash)
    with TestClient(orders_app(own.model_copy(update={"relay_enabled": True}))) as client:
        deadline = time.monotonic() + 10
        while (ready := client.get(READY_PATH)).status_code == 200:
            assert time.monotonic() < deadline, "the relay thread is still alive"
            time.sleep(0.05)
        assert ready.status_code == 503
        body = ready.json()
        assert body["status"] == "not ready"
        assert body["checks"]["relay"]["ok"] is False
        assert "relay thread is dead" in body["checks"]["relay"]["detail"]
        assert body["checks"]["database"]["ok"] is True
        assert client.get("/health/live").status_code == 200


def test_ready_turns_503_within_its_bound_when_the_database_stops_and_recovers(
    own: Settings,
) -> None:
    stack = Stack(own)
    with TestClient(orders_app(own)) as orders, TestClient(read_api_app(own)) as reader:
        for client in (orders, reader):
            assert client.get(READY_PATH).status_code == 200
        stack.stop_postgres()
        try:
            for client in (orders, reader):
                started = time.monotonic()
                ready = client.get(READY_PATH)
                assert time.monotonic() - started < READY_TIMEOUT_S + 1
                assert ready.status_code == 503, ready.text
                assert ready.headers["Retry-After"] == "1"
                database = ready.json()["checks"]["database"]
                assert database["ok"] is False and "database" in database["detail"]
                assert "127.0.0.1" not in ready.text  # no addresses to anonymous callers
                for path in ("/health", "/health/live"):  # no IO: the process is fine
                    assert client.get(path).status_code == 200
        finally:
            stack.start_postgres()
        for client in (orders, reader):  # the pool replaces its dead connections
            deadline = time.monotonic() + 20
            while client.get(READY_PATH).status_code != 200:
                assert time.monotonic() < deadline, "still not ready after the restart"
                time.sleep(0.2)


def test_health_routes_are_documented_with_their_status_codes(read_api: TestClient) -> None:
    paths = read_api.get("/openapi.json").json()["paths"]
    assert set(paths[READY_PATH]["get"]["responses"]) >= {"200", "503"}
    for path in ("/health", "/health/live"):
        assert "200" in paths[path]["get"]["responses"]


def test_the_first_read_after_a_database_restart_is_answered(own: Settings) -> None:
    """The read API checks no connection as it leaves the pool (a round trip per read): a
    read on a connection that died with its server is repeated on a fresh one instead."""
    headers = {"Authorization": f"Bearer {issue_token(own, 'u-restart', roles=(CUSTOMER,))}"}
    stack = Stack(own)
    with TestClient(read_api_app(own)) as reader:
        before = reader.get("/freshness", headers=headers)
        assert "unavailable" not in before.text
        stack.stop_postgres()
        stack.start_postgres()
        after = reader.get("/freshness", headers=headers)
        assert (after.status_code, after.json()) == (before.status_code, before.json())
