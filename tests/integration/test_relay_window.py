"""A relay batch in flight when the broker dies is sent again, not marked over a replay."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from config.settings import Settings
from database import connections
from services import outbox
from services.outbox import Relay
from tests.support.relay import relay_all

pytestmark = [pytest.mark.integration, pytest.mark.faults]
Auth = Callable[..., dict[str, str]]


class AcknowledgedThenPaused(Relay):
    """A relay whose (dying) broker acknowledged the batch; it waits before marking it."""

    def __init__(self, settings: Settings, pool: Any) -> None:
        super().__init__(settings, pool)
        self.acknowledged = threading.Event()
        self.mark = threading.Event()

    def _send(self, rows: list[tuple[Any, ...]]) -> None:
        self.acknowledged.set()
        assert self.mark.wait(30)


def published_at(settings: Settings, order_id: str) -> list[Any]:
    with connections.connect(settings, "orders") as conn:
        rows = conn.execute(
            "select published_at from outbox where message_key = %s", (order_id,)
        ).fetchall()
    return [at for (at,) in rows]


def test_a_replay_waits_for_the_batch_in_flight_and_resets_it(
    settings: Settings, orders: TestClient, auth: Auth
) -> None:
    relay_all(settings, "orders")  # only this test's row is pending
    order_id = str(uuid.uuid4())
    body = {"order_id": order_id, "customer_name": "Window"}
    assert orders.post("/orders", json=body, headers=auth("window")).status_code == 201
    pool = connections.open_pool(settings, "orders", max_size=1)
    relay = AcknowledgedThenPaused(settings, pool)
    sent: list[int] = []
    batch = threading.Thread(target=lambda: sent.append(relay.publish_batch()))
    replayed: list[int] = []
    try:
        batch.start()
        assert relay.acknowledged.wait(30)
        # The broker came back empty: the stack replays every outbox, mid-batch.
        with connections.connect(settings, "orders") as conn:
            replay = threading.Thread(
                target=lambda: replayed.append(
                    outbox.replay(conn, datetime(1970, 1, 1, tzinfo=UTC))
                )
            )
            replay.start()
            replay.join(1.0)
            assert replay.is_alive(), "the replay did not wait for the batch in flight"
            relay.mark.set()
            batch.join(30)
            replay.join(30)
        assert sent == [1] and replayed and replayed[0] >= 1
        # Marked by the batch, then reset by the replay: the relay sends it again.
        assert published_at(settings, order_id) == [None]
        assert relay_all(settings, "orders") >= 1
        assert published_at(settings, order_id)[0] is not None
    finally:
        relay.mark.set()
        batch.join(30)
        pool.close()
