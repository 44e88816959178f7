"""Idempotency keys are kept for their window, then purged, on the real server."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from config.database_settings import DbRole
from config.settings import Settings
from database import connections
from services.idempotency import KeyPurge, purge_expired

pytestmark = pytest.mark.integration
Auth = Callable[..., dict[str, str]]
DAY_S = 86_400.0


def age_key(settings: Settings, key: str, seconds: float) -> None:
    with connections.connect(settings, "orders") as conn:
        conn.execute(
            "update idempotency_keys set created_at = now() - make_interval(secs => %s)"
            " where key = %s",
            (seconds, key),
        )


def key_count(settings: Settings, key: str) -> int:
    with connections.connect(settings, "orders") as conn:
        row = conn.execute("select count(*) from idempotency_keys where key = %s", (key,))
        return int(row.fetchall()[0][0])


def test_keys_past_the_window_are_purged_and_younger_ones_kept(
    settings: Settings, orders: TestClient, auth: Auth
) -> None:
    old, young = f"old-{uuid.uuid4()}", f"young-{uuid.uuid4()}"
    body = {"customer_name": "Hana"}
    first = orders.post("/orders", json=body, headers={**auth("hana"), "Idempotency-Key": old})
    orders.post("/orders", json=body, headers={**auth("hana"), "Idempotency-Key": young})
    age_key(settings, old, DAY_S + 60)
    age_key(settings, young, DAY_S - 60)
    # As the service's own role: the purge needs no privilege beyond the service's.
    with connections.connect(settings, "orders", role=DbRole.ORDERS, autocommit=True) as conn:
        assert purge_expired(conn, DAY_S) >= 1
    assert (key_count(settings, old), key_count(settings, young)) == (0, 1)
    # Past its window a key is free again: the same request makes a new order.
    again = orders.post("/orders", json=body, headers={**auth("hana"), "Idempotency-Key": old})
    assert again.status_code == 201
    assert again.json()["order_id"] != first.json()["order_id"]


def test_the_services_purge_runs_on_its_own_until_stopped(
    settings: Settings, orders: TestClient, auth: Auth
) -> None:
    key = f"bg-{uuid.uuid4()}"
    orders.post(
        "/orders", json={"customer_name": "Ivo"}, headers={**auth("ivo"), "Idempotency-Key": key}
    )
    age_key(settings, key, DAY_S + 60)
    pool = connections.open_pool(settings, "orders", role=DbRole.ORDERS, max_size=1)
    stop = threading.Event()
    purge = threading.Thread(target=KeyPurge(pool, DAY_S, 0.05).run_forever, args=(stop,))
    try:
        purge.start()
        for _ in range(100):
            if key_count(settings, key) == 0:
                break
            stop.wait(0.05)
        assert key_count(settings, key) == 0
    finally:
        stop.set()
        purge.join(timeout=10)
        pool.close()
    assert not purge.is_alive()
