"""Poison never stops a partition: each kind becomes a dead letter, the valid event is served.

Messages are written with a plain kafka-python producer (not the services' outbox producer),
as any other client of the topics could write them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi.testclient import TestClient
from kafka import KafkaProducer

from config.settings import Settings
from contracts.envelope import EventMeta, make_event
from database import connections
from database.names import WAREHOUSE_DATABASE
from ingest.job import run_ingest
from ingest.warehouse import DeadLetter, Position, write_batch
from pipeline.publish import publish_views
from tests.support.dbt_in_process import InProcessDbt
from tests.support.raw_events import raw_row, stock_updated
from tests.support.signing import stack_bytes

INT_MAX = 2**31 - 1


def stock_event(product: str, version: int, amount: int = 5) -> dict[str, Any]:
    payload = {"product_id": product, "operation": "increase", "stock_amount": amount}
    return make_event(
        "stock.updated", aggregate_id=product, aggregate_version=version, payload=payload,
        meta=EventMeta(producer="stock"),
    )  # fmt: skip


def mutated(
    settings: Settings, event: dict[str, Any], change: Callable[[dict[str, Any]], None]
) -> bytes:
    """``event`` changed, then signed: what a producer with that bug would publish."""
    copy = orjson.loads(orjson.dumps(event))
    change(copy)
    return stack_bytes(settings, copy)


def dead_letters(settings: Settings, topic: str, key: bytes) -> list[tuple[bytes, str]]:
    with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
        rows = conn.execute(
            "select message_value, reason from raw.dead_letter_events"
            " where kafka_topic = %s and message_key = %s order by kafka_offset",
            (topic, key),
        ).fetchall()
    return [(bytes(value), reason) for value, reason in rows]


def test_every_poison_kind_is_dead_lettered_and_the_valid_event_after_it_is_served(
    settings: Settings, dbt: InProcessDbt, read_api: TestClient,
    auth: Callable[[str], dict[str, str]],
) -> None:  # fmt: skip
    product = f"sku-{uuid.uuid4().hex[:8]}"
    key = product.encode()
    first = stock_event(product, 1)
    poison = {
        "aggregate_version": mutated(
            settings, first, lambda e: e.update(aggregate_version=INT_MAX + 1)
        ),
        "not an integer literal": mutated(
            settings, first, lambda e: e["payload"].update(stock_amount=5.0)
        ),
        "stock_amount": mutated(
            settings, first, lambda e: e["payload"].update(stock_amount=INT_MAX + 1)
        ),
        "occurred_at": mutated(
            settings, first, lambda e: e.update(occurred_at="0000-01-01T00:00:00Z")
        ),
        "product_id": mutated(settings, first, lambda e: e["payload"].update(product_id="a\u0000")),
        "not JSON": stack_bytes(settings, first).replace(b'"stock"', b'"\\udc00"'),
        "conflicting duplicate": mutated(
            settings, first, lambda e: e["payload"].update(stock_amount=6)
        ),
    }
    valid = stock_event(product, 2, amount=7)
    producer = KafkaProducer(bootstrap_servers=settings.bootstrap_servers, acks="all")
    # All on the aggregate's partition, in this order: the valid one comes after the poison.
    for value in [stack_bytes(settings, first), *poison.values(), stack_bytes(settings, valid)]:
        producer.send("stock.updated", key=key, value=value)
    producer.flush()
    producer.close()

    report = run_ingest(settings)
    assert report.topics["stock.updated"].dead_letters >= len(poison)
    stored = dead_letters(settings, "stock.updated", key)
    assert [value for value, _ in stored] == list(poison.values())
    for (_, reason), named in zip(stored, poison, strict=True):
        assert named in reason, (named, reason)
    assert not run_ingest(settings).topics["stock.updated"].dead_letters  # offsets advanced

    dbt("run")  # staging casts every row raw accepted; the marts fold them
    publish_views(settings)
    served = read_api.get(f"/products/{product}/stock", headers=auth("clerk"))
    assert served.status_code == 200, served.text
    assert (served.json()["stock"], served.json()["version"]) == (5 + 7, 2)


def test_rows_postgres_refuses_are_split_out_with_its_reason_and_the_rest_land(
    settings: Settings,
) -> None:
    """The last line of defence, for what a contract might let through one day."""
    product = f"sku-{uuid.uuid4().hex[:8]}"
    at = datetime(2026, 3, 1, tzinfo=UTC)
    good = [raw_row(stock_updated(product, v, 1, at)) for v in range(1, 6)]
    template = good[0]
    refused = [
        template._replace(event_id=str(uuid.uuid4()), aggregate_version=INT_MAX + 1),
        template._replace(event_id=str(uuid.uuid4()), occurred_at="0000-01-01T00:00:00Z"),
        template._replace(event_id=str(uuid.uuid4()), payload='{"product_id": "\\u0000"}'),
    ]
    key = product.encode()
    rows = [good[0], refused[0], good[1], good[2], refused[1], good[3], refused[2], good[4]]
    rows = [
        r._replace(kafka_offset=900_000 + i, message_key=key, message_value=b"message %d" % i)
        for i, r in enumerate(rows)
    ]
    with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
        written = write_batch(conn, rows, [], {("poison.test", 0): Position(42)})
        landed = conn.execute(
            "select count(*) from raw.stock_updated where aggregate_id = %s", (product,)
        ).fetchone()
        offset = conn.execute(
            "select next_offset from raw.ingest_offsets where topic = 'poison.test'"
        ).fetchone()
        conn.execute("delete from raw.ingest_offsets where topic = 'poison.test'")
        conn.commit()
    assert written.inserted["stock.updated"] == 5 and landed == (5,)
    assert offset == (42,)
    assert [d.offset for d in written.dead] == [900_001, 900_004, 900_006]
    assert all(isinstance(d, DeadLetter) for d in written.dead)
    reasons = [d.reason for d in written.dead]
    assert "22003" in reasons[0] and "out of range" in reasons[0]
    assert "refused by the warehouse" in reasons[1]
    assert "\\u0000" in reasons[2] or "22P05" in reasons[2]
