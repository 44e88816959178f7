"""Read back what the relays published, as a real Kafka consumer would."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson
from kafka import KafkaConsumer, TopicPartition

from config.settings import Settings
from contracts.envelope import validate


def find_events(
    settings: Settings,
    topic: str,
    match: Callable[[dict[str, Any]], bool],
    want: int,
    timeout: float = 20,
) -> list[tuple[bytes, dict[str, Any], dict[str, bytes]]]:
    """Events on ``topic`` for which ``match`` holds, validated against the contracts."""
    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap_servers, group_id=None)
    try:
        parts = [
            TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])
        ]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        found: list[tuple[bytes, dict[str, Any], dict[str, bytes]]] = []
        deadline = time.monotonic() + timeout
        while len(found) < want and time.monotonic() < deadline:
            for messages in consumer.poll(timeout_ms=500).values():
                for msg in messages:
                    try:
                        event = orjson.loads(msg.value)
                    except orjson.JSONDecodeError:
                        continue  # another test's poison on the same topic
                    if match(event):
                        found.append((msg.key, validate(event), dict(msg.headers)))
        return found
    finally:
        consumer.close()
