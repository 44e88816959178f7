"""Ingest decoding: valid events become raw rows, everything else a dead letter with a reason."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import orjson
import pytest

from ingest.decode import Message, decode, decode_all
from ingest.warehouse import DeadLetter, RawEvent
from tests.support.raw_events import order_created
from tests.support.signing import signed, unit_signers, unit_trust


def event_bytes(**overrides: object) -> tuple[bytes, bytes]:
    order_id = str(uuid.uuid4())
    event = order_created(order_id, "u", datetime.now(UTC), customer_name="C")
    event.update(overrides)
    return order_id.encode(), orjson.dumps(signed(event))


def test_valid_event_becomes_a_raw_event() -> None:
    key, value = event_bytes()
    row = decode("order.created", 2, 41, key, value, unit_trust())
    assert isinstance(row, RawEvent)
    assert (row.kafka_topic, row.kafka_partition, row.kafka_offset) == ("order.created", 2, 41)
    event = orjson.loads(value)
    assert (row.event_id, row.aggregate_id, row.occurred_at) == (
        event["event_id"], key.decode(), event["occurred_at"],
    )  # fmt: skip
    assert orjson.loads(row.payload) == event["payload"]
    assert orjson.loads(row.trace) == event["trace"]


def test_nul_escape_is_a_dead_letter_not_a_failed_batch() -> None:
    key, value = event_bytes(producer="orders\u0000")
    assert b"\\u0000" in value
    dead = decode("order.created", 0, 1, key, value, unit_trust())
    assert isinstance(dead, DeadLetter)
    assert "u0000" in dead.reason


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
    dead = decode("order.created", 0, 7, key, value, unit_trust())
    assert isinstance(dead, DeadLetter)
    assert reason in dead.reason
    assert (dead.topic, dead.partition, dead.offset, dead.value) == ("order.created", 0, 7, value)


def test_event_on_the_wrong_topic_is_a_dead_letter() -> None:
    key, value = event_bytes()
    dead = decode("invoice.created", 0, 0, key, value, unit_trust())
    assert isinstance(dead, DeadLetter)
    assert "published to topic 'invoice.created'" in dead.reason


def test_unknown_event_type_is_a_dead_letter() -> None:
    key, value = event_bytes(event_type="order.shipped")
    dead = decode("order.created", 0, 0, key, value, unit_trust())
    assert isinstance(dead, DeadLetter)
    assert "contract violation" in dead.reason


def test_key_must_match_aggregate_id() -> None:
    _, value = event_bytes()
    dead = decode("order.created", 0, 0, b"someone-else", value, unit_trust())
    assert isinstance(dead, DeadLetter)
    assert "aggregate_id" in dead.reason


def test_a_write_batch_decoded_at_once_gets_the_answers_each_message_gets_alone() -> None:
    # The ingest decodes a write batch at once, so that one relay batch's envelopes fold to
    # their signed root together; poison, a changed envelope and a stranger sit among them.
    orders = [
        order_created(str(uuid.uuid4()), "u", datetime.now(UTC), customer_name=f"C{i}")
        for i in range(6)
    ]
    relay_batch = unit_signers()["orders"].sign_batch(orders)
    changed = {**relay_batch[2], "aggregate_version": 2}
    messages: list[Message] = [
        ("order.created", 0, i, e["aggregate_id"].encode(), orjson.dumps(e))
        for i, e in enumerate([*relay_batch[:2], changed, *relay_batch[3:]])
    ]
    messages.insert(3, ("order.created", 0, 90, b"k", b"{not json"))
    key, value = event_bytes()
    messages.insert(1, ("order.created", 1, 91, key, value))
    together = decode_all(messages, unit_trust())
    assert together == [decode(*m, unit_trust()) for m in messages]
    refused = [r.reason for r in together if isinstance(r, DeadLetter)]
    assert len(refused) == 2 and refused[0].startswith("bad proof"), refused
    assert [type(r) for r in together].count(RawEvent) == 6
