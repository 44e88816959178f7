"""The ``spans`` fixture: spans recorded in memory, the real provider put back afterwards."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from config import tracing


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    previous = tracing.use_provider(
        tracing.make_provider("test", processors=[SimpleSpanProcessor(exporter)])
    )
    try:
        yield exporter
    finally:
        tracing.use_provider(previous)
