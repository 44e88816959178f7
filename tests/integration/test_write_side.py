"""Write services against real PostgreSQL and Kafka: outbox, idempotency, request ids, races."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from config.settings import Settings
from cqrsw.cli import main as cqrsw
from database import connections
from ingest.job import run_ingest
from services.orders.app import create_app as orders_app
from services.outbox import Relay
from services.stock.repository import PostgresStockRepository
from services.tokens import issue_token
from stack.lifecycle import Stack
from tests.support.kafka_reader import find_events
from tests.support.relay import relay_all
from tests.support.throwaway_stack import free_port

Auth = Callable[..., dict[str, str]]


def test_request_id_and_trace_travel_into_the_kafka_envelope(
    settings: Settings, orders: TestClient, auth: Auth
) -> None:
    r = orders.post(
        "/orders",
        json={"customer_name": "Erin"},
        headers={**auth("erin"), "X-Request-Id": "req-erin-1"},
    )
    assert r.status_code == 201
    assert r.headers["X-Request-Id"] == "req-erin-1"
    order_id = r.json()["order_id"]
    relay_all(settings, "orders")
    [(key, event, headers)] = find_events(
        settings, "order.created", lambda e: e["aggregate_id"] == order_id, want=1
    )
    assert key == order_id.encode()
    assert event["request_id"] == "req-erin-1"
    assert event["producer"] == "orders"
    assert event["payload"] == {
        "order_id": order_id,
        "user_id": "erin",
        "customer_name": "Erin",
        "items": [],
        "channel": "api",
    }
    assert len(event["trace"]["traceparent"]) == 55
    assert headers["event_id"] == event["event_id"].encode()


def test_missing_request_id_is_generated(orders: TestClient, auth: Auth) -> None:
    r = orders.post("/orders", json={"customer_name": "Erin"}, headers=auth("erin"))
    assert uuid.UUID(r.headers["X-Request-Id"])


def test_idempotency_key_creates_one_entity(
    settings: Settings, orders: TestClient, auth: Auth
) -> None:
    headers = {**auth("frank"), "Idempotency-Key": f"k-{uuid.uuid4()}"}
    body = {"customer_name": "Frank"}
    first = orders.post("/orders", json=body, headers=headers)
    again = orders.post("/orders", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    with connections.connect(settings, "orders") as conn:
        rows = conn.execute(
            "select count(*) from outbox where message_key = %s", (first.json()["order_id"],)
        ).fetchone()
    assert rows == (1,)
    other = orders.post("/orders", json={"customer_name": "Frankie"}, headers=headers)
    assert other.status_code == 422
    assert "Idempotency-Key" in other.json()["detail"]


def test_tokens_are_required_and_checked(orders: TestClient, settings: Settings) -> None:
    assert orders.post("/orders", json={"customer_name": "X"}).status_code == 401
    bad = {"Authorization": "Bearer not-a-token"}
    assert orders.post("/orders", json={"customer_name": "X"}, headers=bad).status_code == 401


def test_cancel_flow_and_conflicts(orders: TestClient, auth: Auth) -> None:
    order_id = orders.post("/orders", json={"customer_name": "Gina"}, headers=auth("gina")).json()[
        "order_id"
    ]
    assert orders.post(f"/orders/{order_id}/cancel", headers=auth("mallory")).status_code == 404
    r = orders.post(f"/orders/{order_id}/cancel", headers=auth("gina"))
    body = r.json()
    assert body.pop("position_token")  # where the event will be: tested in test_read_your_writes
    assert body == {"order_id": order_id, "status": "cancelled", "version": 2}
    assert orders.post(f"/orders/{order_id}/cancel", headers=auth("gina")).status_code == 409


def test_decrease_below_zero_is_409_with_current_stock(stock: TestClient, auth: Auth) -> None:
    product = f"sku-{uuid.uuid4().hex[:8]}"
    url = f"/products/{product}/stock-operations"
    # `amount`, the name before `stock_amount`, is still read
    increase = {"operation": "increase", "amount": 5}
    assert stock.post(url, json=increase, headers=auth("w", "stock")).status_code == 201
    r = stock.post(
        url, json={"operation": "decrease", "stock_amount": 6}, headers=auth("w", "stock")
    )
    assert r.status_code == 409
    assert r.json()["stock"] == 5
    r = stock.post(
        url, json={"operation": "decrease", "stock_amount": 5}, headers=auth("w", "stock")
    )
    body = r.json()
    assert body.pop("position_token")
    assert body == {
        "product_id": product,
        "operation": "decrease",
        "stock_amount": 5,
        "amount": 5,
        "stock": 0,
        "version": 2,
    }
    r = stock.post(url, json={"operation": "steal", "stock_amount": 0}, headers=auth("w", "stock"))
    assert r.status_code == 422
    assert {e["loc"][-1] for e in r.json()["detail"]} == {"operation", "stock_amount"}


def test_concurrent_decreases_never_oversell(
    settings: Settings, stock: TestClient, auth: Auth
) -> None:
    product = f"sku-{uuid.uuid4().hex[:8]}"
    url = f"/products/{product}/stock-operations"
    headers = auth("warehouse", "stock")
    assert (
        stock.post(url, json={"operation": "increase", "amount": 20}, headers=headers).status_code
        == 201
    )
    start = threading.Barrier(50)

    def decrease(_: int) -> int:
        start.wait()
        return stock.post(
            url, json={"operation": "decrease", "amount": 1}, headers=headers
        ).status_code

    with ThreadPoolExecutor(max_workers=50) as pool:
        codes = list(pool.map(decrease, range(50)))
    assert codes.count(201) == 20
    assert codes.count(409) == 30
    with connections.connect(settings, "stock") as conn:
        assert PostgresStockRepository(conn).load(product).stock == 0
        versions = [v for (v,) in conn.execute(
            "select version from product_stock_operations where product_id = %s order by version",
            (product,),
        )]  # fmt: skip
    assert versions == list(range(1, 22))
    relay_all(settings, "stock")
    published = find_events(
        settings, "stock.updated", lambda e: e["aggregate_id"] == product, want=21
    )
    # One key, one partition: the relay published the log in version order.
    assert [e["aggregate_version"] for _, e, _ in published] == list(range(1, 22))


def test_commands_succeed_while_the_broker_is_down(settings: Settings, tmp_path: Path) -> None:
    """Rows wait in the outbox; the relay retries with backoff, then publishes them all."""
    down = settings.model_copy(
        update={"kafka_port": free_port(), "state_dir": tmp_path, "relay_interval_s": 0.2}
    )
    token = {"Authorization": f"Bearer {issue_token(down, 'hank')}"}
    with TestClient(orders_app(down)) as client:
        ids = [
            client.post("/orders", json={"customer_name": "Hank"}, headers=token).json()["order_id"]
            for _ in range(3)
        ]
    pool = connections.open_pool(down, "orders", max_size=2)
    stop = threading.Event()
    relay = threading.Thread(target=Relay(down, pool).run_forever, args=(stop,), daemon=True)
    relay.start()
    broker = Stack(down)
    try:
        with connections.connect(down, "orders") as conn:
            waiting = conn.execute(
                "select count(*) from outbox where published_at is null and message_key = any(%s)",
                (ids,),
            ).fetchone()
        assert waiting == (3,)
        broker.start_kafka()
        broker.create_topics()
        found = find_events(
            down, "order.created", lambda e: e["aggregate_id"] in ids, want=3, timeout=60
        )
        assert sorted(e["aggregate_id"] for _, e, _ in found) == sorted(ids)
    finally:
        stop.set()
        relay.join(timeout=30)
        pool.close()
        broker.stop_kafka()


def test_outbox_replay_republishes_and_the_warehouse_keeps_one_copy(
    settings: Settings, invoices: TestClient, auth: Auth
) -> None:
    since = datetime.now(UTC)
    r = invoices.post(
        "/invoices", json={"order_id": str(uuid.uuid4())}, headers=auth("jo", "billing")
    )
    invoice_id = r.json()["invoice_id"]
    relay_all(settings, "invoices")
    run_ingest(settings)
    env = settings.as_env()
    with pytest.MonkeyPatch.context() as mp:
        for name, value in env.items():
            mp.setenv(name, value)
        assert (
            cqrsw(["outbox", "replay", "--service", "invoices", "--since", since.isoformat()]) == 0
        )
    assert relay_all(settings, "invoices") >= 1
    copies = find_events(
        settings, "invoice.created", lambda e: e["aggregate_id"] == invoice_id, want=2
    )
    assert len(copies) == 2  # on the broker twice ...
    run_ingest(settings)
    with connections.connect(settings, "warehouse") as conn:
        rows = conn.execute(
            "select count(*) from raw.invoice_created where aggregate_id = %s", (invoice_id,)
        ).fetchone()
    assert rows == (1,)  # ... and in the warehouse once
