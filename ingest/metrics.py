"""Prometheus metrics of the ingest job."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

ROWS_INGESTED = Counter("cqrsw_ingest_rows_total", "Events written to raw tables", ["topic"])
DEAD_LETTERS = Counter(
    "cqrsw_ingest_dead_letters_total", "Messages sent to dead letters", ["topic"]
)
OFFSET_RESETS = Counter(
    "cqrsw_ingest_offset_resets_total",
    "Partitions whose stored offset was outside the broker's log",
    ["topic", "partition"],
)
LAG = Gauge("cqrsw_ingest_lag_messages", "Messages left after a run", ["topic", "partition"])
BATCH_SECONDS = Histogram("cqrsw_ingest_batch_seconds", "Duration of one batch transaction")
