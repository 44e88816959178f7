"""One command's trace, collected in memory, from the HTTP request to the ingest batch."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from config.settings import Settings
from database import connections
from database.names import WAREHOUSE_DATABASE
from ingest.job import run_ingest
from services.orders.app import create_app as orders_app
from tests.support.relay import relay_all

Auth = Callable[[str], dict[str, str]]


def named(spans: tuple[ReadableSpan, ...], name: str) -> list[ReadableSpan]:
    return [s for s in spans if s.name == name]


def test_one_commands_trace_reaches_the_ingest_batch_through_the_kafka_envelope(
    settings: Settings, spans: InMemorySpanExporter, auth: Auth
) -> None:
    with TestClient(orders_app(settings)) as orders:
        r = orders.post(
            "/orders", json={"customer_name": "Tracy"},
            headers={**auth("tracy"), "X-Request-Id": "req-tracy-1"},
        )  # fmt: skip
    assert r.status_code == 201, r.text
    order_id = r.json()["order_id"]
    relay_all(settings, "orders")
    run_ingest(settings)
    finished = spans.get_finished_spans()

    [server] = [s for s in finished if s.kind == SpanKind.SERVER and s.name == "POST /orders"]
    trace_id = server.context.trace_id
    assert server.attributes is not None and server.attributes["request.id"] == "req-tracy-1"
    # The outbox insert is inside the command's trace, under its server span.
    [insert] = [s for s in named(finished, "outbox insert") if s.context.trace_id == trace_id]
    assert insert.parent is not None
    assert insert.attributes is not None
    event_id = insert.attributes["event.id"]

    # The event in the warehouse carries the command's trace context in its envelope...
    with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
        row = conn.execute(
            "select trace ->> 'traceparent', ingest_batch_id from raw.order_created"
            " where payload ->> 'order_id' = %s",
            (order_id,),
        ).fetchone()
    assert row is not None
    traceparent, batch_id = row
    assert traceparent.split("-")[1] == f"{trace_id:032x}"

    # ...and the relay's publish and the ingest batch that wrote it link back to that trace.
    def linked(span: ReadableSpan) -> bool:
        return any(
            link.context.trace_id == trace_id
            and link.attributes is not None
            and link.attributes.get("event.id") == event_id
            for link in span.links
        )

    assert [s for s in named(finished, "outbox relay publish") if linked(s)]
    # The ingest links by context alone (attributes per link would double its cost).
    [batch] = [
        s
        for s in named(finished, "ingest batch")
        if any(
            (link.context.trace_id, link.context.span_id) == (trace_id, server.context.span_id)
            for link in s.links
        )
    ]
    assert batch.kind == SpanKind.CONSUMER
    assert batch.attributes is not None and batch.attributes["ingest.batch_id"] == batch_id
    [ingest] = named(finished, "ingest")
    assert batch.parent is not None and batch.parent.span_id == ingest.context.span_id
