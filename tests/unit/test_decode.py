"""Ingest decoding: valid events become raw rows, everything else a dead letter with a reason."""

from __future__ import annotations

import uuid

import orjson
import pytest

from ingest.decode import decode
from ingest.warehouse import DeadLetter
from services.contracts import EventMeta, make_event


def event_bytes(**overrides: object) -> tuple[bytes, bytes]:
    order_id = str(uuid.uuid4())
    event = make_event(
        "order.created",
        aggregate_id=order_id,
        aggregate_version=1,
        payload={
            "order_id": order_id,
            "user_id": "u",
            "customer_name": "C",
            "items": [],
            "channel": "web",
        },
        meta=EventMeta(producer="orders"),
    )
    event.update(overrides)
    return order_id.encode(), orjson.dumps(event)


def test_valid_event_becomes_a_raw_row() -> None:
    key, value = event_bytes()
    row = decode("order.created", 2, 41, key, value)
    assert not isinstance(row, DeadLetter)
    assert row[1] == "order.created"
    assert row[3] == key.decode()
    assert row[-3:] == ("order.created", 2, 41)
    assert orjson.loads(str(row[9]))["customer_name"] == "C"


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        (b"k", b"{not json", "not JSON"),
        (b"k", b"[1, 2]", "not a JSON object"),
        (b"k", b'{"event_id": "x"}', "contract violation"),
        (None, b"{}", "missing key"),
        (b"k", None, "empty message value"),
    ],
)
def test_poison_messages_become_dead_letters(
    key: bytes | None, value: bytes | None, reason: str
) -> None:
    dead = decode("order.created", 0, 7, key, value)
    assert isinstance(dead, DeadLetter)
    assert reason in dead.reason
    assert (dead.topic, dead.partition, dead.offset, dead.value) == ("order.created", 0, 7, value)


def test_event_on_the_wrong_topic_is_a_dead_letter() -> None:
    key, value = event_bytes()
    dead = decode("invoice.created", 0, 0, key, value)
    assert isinstance(dead, DeadLetter)
    assert "published to topic 'invoice.created'" in dead.reason


def test_unknown_event_type_is_a_dead_letter() -> None:
    key, value = event_bytes(event_type="order.shipped")
    dead = decode("order.created", 0, 0, key, value)
    assert isinstance(dead, DeadLetter)
    assert "contract violation" in dead.reason


def test_key_must_match_aggregate_id() -> None:
    _, value = event_bytes()
    dead = decode("order.created", 0, 0, b"someone-else", value)
    assert isinstance(dead, DeadLetter)
    assert "aggregate_id" in dead.reason
