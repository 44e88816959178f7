"""Turn Kafka messages into raw events or dead letters (pure: no IO).

A valid event is kept as it arrived, in the version it was written in: the log is never
rewritten, and dbt staging upcasts older versions to the current shape.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

import orjson

from contracts.envelope import ContractViolation, validate
from contracts.signatures import TrustedKeys
from ingest.warehouse import DeadLetter, RawEvent

# A message as the reader hands it over: topic, partition, offset, key, value.
Message = tuple[str, int, int, bytes | None, bytes | None]


def decode(
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
    trust: TrustedKeys,
) -> RawEvent | DeadLetter:
    """A row only for a contract-valid event that its topic's producer signed."""
    return decode_all([(topic, partition, offset, key, value)], trust)[0]


def decode_all(messages: Sequence[Message], trust: TrustedKeys) -> list[RawEvent | DeadLetter]:
    """``decode`` of each message, in order, each with the answer it gets alone.

    The signatures are checked last, all at once: the envelopes of one relay batch among
    them are folded to their signed root together (``TrustedKeys.refusals``)."""
    checked = [_checked(message) for message in messages]
    verdicts = iter(trust.refusals([c for c in checked if not isinstance(c, DeadLetter)]))
    out: list[RawEvent | DeadLetter] = []
    for message, result in zip(messages, checked, strict=True):
        if isinstance(result, DeadLetter):
            out.append(result)
        elif (refusal := next(verdicts)) is not None:
            out.append(_dead(message, refusal))
        else:
            out.append(_row(message, result))
    return out


def _dead(message: Message, reason: str) -> DeadLetter:
    return DeadLetter(*message, reason)


def _checked(message: Message) -> dict[str, Any] | DeadLetter:
    """The event if it passes every check but its signature; else its dead letter."""
    topic, _, _, key, value = message
    dead = partial(_dead, message)
    if not key:
        return dead("missing key: every event is keyed by its aggregate id")
    if value is None:
        return dead("empty message value")
    try:
        event = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        return dead(f"not JSON: {exc}")
    if not isinstance(event, dict):
        return dead(f"not a JSON object: {type(event).__name__}")
    try:
        validate(event)
    except ContractViolation as exc:
        return dead(f"contract violation: {exc}")
    if event["event_type"] != topic:
        return dead(f"event_type {event['event_type']!r} published to topic {topic!r}")
    if key.decode(errors="replace") != event["aggregate_id"]:
        return dead("message key does not match aggregate_id")
    if b"\\u0000" in value:
        return dead("contains \\u0000, which PostgreSQL jsonb cannot store")
    return event


def _row(message: Message, event: dict[str, Any]) -> RawEvent:
    topic, partition, offset, key, value = message
    return RawEvent(
        event["event_id"],
        event["event_type"],
        event["schema_version"],
        event["aggregate_id"],
        event["aggregate_version"],
        event["occurred_at"],
        event["producer"],
        event["request_id"],
        orjson.dumps(event["trace"]).decode(),
        orjson.dumps(event["payload"]).decode(),
        topic,
        partition,
        offset,
        key,
        value,
    )
