"""``cqrsw trace``'s verdict for each state an event can be in (facts made by hand, no IO)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from journeys.journey import DeadLettered, Facts, Ingested, journey

T0 = datetime(2026, 11, 27, 10, 0, 0, tzinfo=UTC)
NEXT_RUN = datetime(2026, 11, 27, 10, 5, tzinfo=UTC)
EVENT = {
    "event_id": "6f1c0a43-0d4b-4c1e-9d59-2a1f0e0b7c11",
    "event_type": "order.created",
    "aggregate_id": "0b8f7f7e-9c7a-4c33-8f4a-4a8a1c4a0d11",
    "occurred_at": "2026-11-27T10:00:00Z",
    "request_id": "req-1",
}
IN_OUTBOX = Facts(
    event=EVENT, service="orders", recorded_at=T0 + timedelta(milliseconds=2),
    published_at=None, ahead_in_outbox=7, broker_reachable=False, next_run=NEXT_RUN,
)  # fmt: skip
PUBLISHED = replace(IN_OUTBOX, published_at=T0 + timedelta(seconds=1), broker_reachable=None)
INGESTED = replace(
    PUBLISHED,
    ingested=Ingested(T0 + timedelta(seconds=60), batch_id=42, partition=2, offset=17, txid=900),
)
BUILT = replace(INGESTED, built_watermark={"orders_with_invoices": 901})
SERVED = replace(BUILT, served_at={"orders_with_invoices": T0 + timedelta(seconds=90)})


def test_still_in_the_outbox_says_why_and_how_many_wait_before_it() -> None:
    j = journey(IN_OUTBOX)
    assert j.state == "in outbox"
    assert [h.name for h in j.hops] == ["accepted", "in the outbox"]
    assert j.stuck is not None
    assert "7 events ahead" in j.stuck and "broker does not answer" in j.stuck
    assert "relay has not reached it" in (
        journey(replace(IN_OUTBOX, broker_reachable=True)).stuck or ""
    )


def test_published_not_ingested_gives_the_next_run() -> None:
    j = journey(PUBLISHED)
    assert j.state == "published"
    assert j.stuck == "not ingested yet; next scheduled run 2026-11-27T10:05:00+00:00"


def test_dead_lettered_gives_the_reason_and_the_position() -> None:
    dead = DeadLettered(T0 + timedelta(seconds=60), "message key does not match aggregate_id", 1, 5)
    j = journey(replace(PUBLISHED, dead_letter=dead))
    assert j.state == "dead-lettered"
    assert j.stuck == "dead-lettered by the ingest: message key does not match aggregate_id"
    assert j.hops[2].detail == "topic order.created, partition 1, offset 5"


def test_ingested_not_built_gives_the_batch_and_the_next_run() -> None:
    j = journey(replace(INGESTED, built_watermark={"orders_with_invoices": 900}))
    assert j.state == "ingested"
    assert j.hops[-1].detail == "raw.order_created, batch 42"
    assert j.hops[2].detail == "topic order.created, partition 2, offset 17"
    assert j.stuck is not None and "not built into orders_with_invoices" in j.stuck
    assert "2026-11-27T10:05:00+00:00" in j.stuck


def test_built_not_published_points_at_the_gate() -> None:
    j = journey(BUILT)
    assert j.state == "built"
    assert j.stuck is not None and "serving.orders_with_invoices" in j.stuck
    assert "quality gate" in j.stuck


def test_served_has_every_hop_with_the_time_spent_at_each() -> None:
    j = journey(SERVED)
    assert j.state == "served" and j.stuck is None
    assert [h.name for h in j.hops] == [
        "accepted", "in the outbox", "published", "ingested", "built into the mart",
        "published to serving",
    ]  # fmt: skip
    spent = [h.seconds_since_previous for h in j.hops]
    assert spent == [None, 0.002, 0.998, 59.0, None, 30.0]


def test_stock_events_wait_for_both_of_their_marts() -> None:
    stock = {**EVENT, "event_type": "stock.updated", "aggregate_id": "sku-1"}
    j = journey(replace(INGESTED, event=stock, built_watermark={"products": 901}))
    assert j.state == "ingested"
    assert j.stuck is not None and "product_stock_daily" in j.stuck


def test_json_form_has_iso_times() -> None:
    data = journey(SERVED).as_dict()
    assert data["state"] == "served"
    assert data["hops"][0]["at"] == "2026-11-27T10:00:00+00:00"
    assert data["hops"][4]["at"] is None
