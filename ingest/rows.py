"""What a Kafka message becomes: a row of ``raw.<topic>`` or a dead letter."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

RAW_COLUMNS = (
    "event_id", "event_type", "schema_version", "aggregate_id", "aggregate_version",
    "occurred_at", "producer", "request_id", "trace", "payload",
    "kafka_topic", "kafka_partition", "kafka_offset", "ingest_batch_id",
)  # fmt: skip


class RawEvent(NamedTuple):
    """A valid event at the current schema version, as the columns of ``raw.<topic>``."""

    event_id: str
    event_type: str
    schema_version: int
    aggregate_id: str
    aggregate_version: int
    occurred_at: str
    producer: str
    request_id: str | None
    trace: str  # JSON text
    payload: str  # JSON text
    kafka_topic: str
    kafka_partition: int
    kafka_offset: int
    # The message as it arrived, kept (not written to raw) for a dead letter should
    # PostgreSQL refuse the row.
    message_key: bytes | None = None
    message_value: bytes | None = None


@dataclass(frozen=True)
class DeadLetter:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    reason: str

    def stored_reason(self) -> str:
        """The reason as a text column can hold it: no NUL, valid UTF-8, bounded length."""
        text = self.reason.encode("utf-8", "backslashreplace").decode().replace("\0", "\\0")
        return text if len(text) <= 2000 else text[:1997] + "..."
