"""When the pipeline builds: after an ingest that brought events, or while ingested rows wait
for a publication, but not again after a failed run until new events come."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from config.settings import Settings
from pipeline import ops
from pipeline.arrivals import needs_build, unpublished_rows
from pipeline.steps import ingest_step
from services.outbox import make_producer
from tests.support.raw_events import order_created
from tests.support.signing import stack_bytes

pytestmark = pytest.mark.integration

DAG = "test_arrivals"
NOTHING = {"messages": 0, "resets": [], "topics": {}}


def send_order(settings: Settings) -> None:
    order_id = str(uuid.uuid4())
    event = order_created(order_id, "ivy", datetime.now(UTC))
    producer = make_producer(settings)
    try:
        value = stack_bytes(settings, event)
        producer.send("order.created", key=order_id.encode(), value=value).get(30)
    finally:
        producer.close()


def test_builds_what_came_and_what_waits_but_not_a_failure_again(settings: Settings) -> None:
    ingest_step(settings)  # whatever earlier tests left in the topics
    ops.record_publication(settings, {"orders_with_invoices": 0}, DAG, "run-1")
    assert not needs_build(settings, NOTHING, DAG)

    send_order(settings)
    summary = ingest_step(settings)

    assert summary["messages"] == 1
    assert needs_build(settings, summary, DAG)
    # The run died before publishing: the next run finds nothing new but still builds.
    assert unpublished_rows(settings, DAG)
    # It failed for good instead (an alert): nothing is retried until new events arrive.
    ops.record_alert(settings, DAG, "validate", "run-2", 1, "DataQualityFailed: test")
    assert not needs_build(settings, NOTHING, DAG)
    # Another DAG's failure does not count for this one.
    assert unpublished_rows(settings, "another_dag")

    send_order(settings)
    assert needs_build(settings, ingest_step(settings), DAG)
    ops.record_publication(settings, {"orders_with_invoices": 1}, DAG, "run-3")
    assert not needs_build(settings, NOTHING, DAG)
