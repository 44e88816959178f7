"""Prometheus metrics of the ingest job, recorded from a run's report.

The job is a batch process (and may use worker processes), so the parent records the
merged report once per run; ``write_textfile`` leaves them where a node-exporter textfile
collector (or a person) can read them.
"""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, write_to_textfile

from ingest.report import IngestReport

REGISTRY = CollectorRegistry()
ROWS_INGESTED = Counter(
    "cqrsw_ingest_rows_total", "Events written to raw tables", ["topic"], registry=REGISTRY
)
DEAD_LETTERS = Counter(
    "cqrsw_ingest_dead_letters_total", "Messages sent to dead letters", ["topic"], registry=REGISTRY
)
OFFSET_RESETS = Counter(
    "cqrsw_ingest_offset_resets_total",
    "Partitions whose stored offset did not match the broker's log (re-read from the start)",
    ["topic", "partition"],
    registry=REGISTRY,
)
LAG = Gauge(
    "cqrsw_ingest_lag_messages", "Messages left after a run", ["topic", "partition"],
    registry=REGISTRY,
)  # fmt: skip
BATCH_SECONDS = Histogram(
    "cqrsw_ingest_batch_seconds", "Duration of one batch transaction", registry=REGISTRY
)
LAST_RUN = Gauge(
    "cqrsw_ingest_last_success_timestamp_seconds", "When a run last finished", registry=REGISTRY
)


def record(report: IngestReport) -> None:
    for topic, t in report.topics.items():
        ROWS_INGESTED.labels(topic).inc(t.rows_written)
        DEAD_LETTERS.labels(topic).inc(t.dead_letters)
    for (topic, partition), left in report.partition_lag.items():
        LAG.labels(topic, str(partition)).set(left)
    for seconds in report.batch_seconds:
        BATCH_SECONDS.observe(seconds)
    LAST_RUN.set_to_current_time()


def write_textfile(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_to_textfile(str(path), REGISTRY)
