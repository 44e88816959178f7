"""What linking an ingest batch to every event's trace costs, with and without an exporter.

No engines: 5,000 raw events (one ingest batch) with a traceparent each, linked by the
ingest's own ``link_events`` under a recording provider (spans go to a null exporter) and
under the default ``CQRSW_OTEL_EXPORTER=none`` provider. Prints microseconds per event each
way and, last, ``ratio=<recording / none>`` (none skips the work, so it is large).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence

import orjson
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

from config import tracing
from ingest.batches import link_events
from ingest.warehouse import RawEvent

BATCH = 5000


class NullExporter(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def events() -> list[RawEvent]:
    def trace() -> str:
        return orjson.dumps(
            {"traceparent": f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01"}
        ).decode()

    return [
        RawEvent(str(uuid.uuid4()), "order.created", 2, "a", 1, "2026-01-01T00:00:00Z",
                 "orders", None, trace(), "{}", "order.created", 0, offset)
        for offset in range(BATCH)
    ]  # fmt: skip


def per_event_us(provider: TracerProvider, batch: list[RawEvent]) -> float:
    tracer, best = provider.get_tracer("bench"), float("inf")
    for _ in range(5):
        started = time.perf_counter()
        with tracer.start_as_current_span("ingest batch") as span:
            if span.is_recording():
                link_events(span, batch)
        best = min(best, time.perf_counter() - started)
    return best / len(batch) * 1e6


def main() -> None:
    batch = events()
    recording = per_event_us(
        tracing.make_provider("bench", processors=[SimpleSpanProcessor(NullExporter())]), batch
    )
    none = per_event_us(tracing.make_provider("bench", sampler=ALWAYS_OFF), batch)
    print(f"links per batch: {BATCH}")
    print(f"exporter set: {recording:.2f} us/event")
    print(f"exporter none: {none:.4f} us/event")
    print(f"ratio={recording / max(none, 1e-6):.0f}")


if __name__ == "__main__":
    main()
