"""Merging worker reports and turning them into metrics (no IO)."""

from __future__ import annotations

from prometheus_client import generate_latest

from ingest import metrics
from ingest.report import IngestReport, TopicReport


def test_worker_reports_add_up() -> None:
    total = IngestReport()
    one = IngestReport(topics={"order.created": TopicReport(10, 1, 0)}, batches=2, messages=11)
    one.partition_lag[("order.created", 0)] = 0
    two = IngestReport(topics={"order.created": TopicReport(5, 0, 3)}, batches=1, messages=5)
    two.partition_lag[("order.created", 1)] = 3
    total.merge(one)
    total.merge(two)
    assert total.topics["order.created"] == TopicReport(15, 1, 3)
    assert (total.batches, total.messages) == (3, 16)
    assert total.partition_lag == {("order.created", 0): 0, ("order.created", 1): 3}


def test_report_becomes_prometheus_metrics() -> None:
    report = IngestReport(topics={"stock.updated": TopicReport(7, 2, 4)}, batch_seconds=[0.5])
    report.partition_lag[("stock.updated", 2)] = 4
    before = metrics.ROWS_INGESTED.labels("stock.updated")._value.get()
    metrics.record(report)
    assert metrics.ROWS_INGESTED.labels("stock.updated")._value.get() == before + 7
    text = generate_latest(metrics.REGISTRY).decode()
    assert 'cqrsw_ingest_lag_messages{partition="2",topic="stock.updated"} 4.0' in text
    assert "cqrsw_ingest_batch_seconds_count" in text
