"""``cqrsw trace`` on the real outboxes and warehouse: an order followed hop by hop."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from config.settings import Settings
from cqrsw.cli import main as cqrsw
from database import connections
from ingest.job import run_ingest
from pipeline.publish import publish_views
from services.outbox import make_producer
from tests.support.dbt_in_process import InProcessDbt
from tests.support.relay import relay_all
from tests.support.throwaway_stack import free_port

Auth = Callable[[str], dict[str, str]]


def trace(settings: Settings, capsys: pytest.CaptureFixture[str], identifier: str) -> Any:
    with pytest.MonkeyPatch.context() as mp:
        for name, value in settings.as_env().items():
            mp.setenv(name, value)
        capsys.readouterr()
        status = cqrsw(["trace", identifier, "--json"])
    report = orjson.loads(capsys.readouterr().out)
    [event] = report["events"]
    assert status == (0 if event["state"] == "served" else 1)
    return event


def test_an_order_is_followed_from_the_outbox_to_serving(
    settings: Settings,
    orders: TestClient,
    auth: Auth,
    dbt: InProcessDbt,
    capsys: pytest.CaptureFixture[str],
) -> None:
    request_id = f"req-trace-{uuid.uuid4().hex[:8]}"
    r = orders.post(
        "/orders", json={"customer_name": "Tom"},
        headers={**auth("tom"), "X-Request-Id": request_id},
    )  # fmt: skip
    order_id = r.json()["order_id"]

    event = trace(settings, capsys, request_id)
    assert event["state"] == "in outbox"
    assert "still in the orders outbox" in event["stuck"]

    relay_all(settings, "orders")
    event = trace(settings, capsys, order_id)
    assert event["state"] == "published"
    assert event["stuck"].startswith("not ingested yet; next scheduled run")

    run_ingest(settings)
    event = trace(settings, capsys, event["event_id"])
    assert event["state"] == "ingested"
    published = event["hops"][2]
    assert published["name"] == "published"
    assert published["detail"].startswith("topic order.created, partition ")
    assert "not built into orders_with_invoices" in event["stuck"]

    dbt("run")
    event = trace(settings, capsys, order_id)
    assert event["state"] == "built"
    assert "serving.orders_with_invoices" in event["stuck"]

    publish_views(settings)
    event = trace(settings, capsys, order_id)
    assert event["state"] == "served" and event["stuck"] is None
    assert [h["name"] for h in event["hops"]][-1] == "published to serving"
    assert all(h["seconds_since_previous"] is None or h["seconds_since_previous"] >= 0
               for h in event["hops"])  # fmt: skip


def test_a_dead_lettered_event_is_reported_with_its_reason(
    settings: Settings, orders: TestClient, auth: Auth, capsys: pytest.CaptureFixture[str]
) -> None:
    r = orders.post("/orders", json={"customer_name": "Dee"}, headers=auth("dee"))
    order_id = r.json()["order_id"]
    # The event reaches the broker under a wrong key (a broken producer), so the ingest
    # refuses it; the outbox row is marked published as the relay would.
    with connections.connect(settings, "orders") as conn:
        row = conn.execute(
            "update outbox set published_at = now() where message_key = %s returning event",
            (order_id,),
        ).fetchone()
    assert row is not None
    producer = make_producer(settings)
    producer.send("order.created", key=b"wrong-key", value=orjson.dumps(row[0]))
    producer.flush()
    producer.close()
    run_ingest(settings)

    event = trace(settings, capsys, order_id)
    assert event["state"] == "dead-lettered"
    assert event["stuck"] == "dead-lettered by the ingest: message key does not match aggregate_id"


def test_an_unknown_id_is_said_so(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.MonkeyPatch.context() as mp:
        for name, value in settings.as_env().items():
            mp.setenv(name, value)
        assert cqrsw(["trace", "no-such-id"]) == 3
    assert "no event with event_id, request id" in capsys.readouterr().out


def test_an_unreachable_database_is_one_line_not_a_traceback(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.MonkeyPatch.context() as mp:
        for name, value in settings.as_env().items():
            mp.setenv(name, value)
        mp.delenv("CQRSW_DATABASE_URL", raising=False)
        mp.setenv("CQRSW_PG_PORT", str(free_port()))
        assert cqrsw(["trace", "any-id"]) == 1
    assert "cannot read the outboxes or the warehouse" in capsys.readouterr().err
