"""Turn one Kafka message into a raw event or a dead letter (pure: no IO).

A valid event is kept as it arrived, in the version it was written in: the log is never
rewritten, and dbt staging upcasts older versions to the current shape.
"""

from __future__ import annotations

import orjson

from contracts.envelope import ContractViolation, validate
from contracts.signatures import TrustedKeys
from ingest.warehouse import DeadLetter, RawEvent


def decode(
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
    trust: TrustedKeys,
) -> RawEvent | DeadLetter:
    """A row only for a contract-valid event that its topic's producer signed."""

    def dead(reason: str) -> DeadLetter:
        return DeadLetter(topic, partition, offset, key, value, reason)

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
    refusal = trust.refusal(event)
    if refusal is not None:
        return dead(refusal)
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
