"""The tracer provider chosen by settings, and the trace contexts built from ids (no IO)."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as Grpc
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as Http
from opentelemetry.sdk.trace.export import ConsoleSpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

from config import tracing
from config.settings import ConfigurationError, Settings, load_settings


@pytest.mark.parametrize(
    ("kind", "expected"),
    [("none", type(None)), ("console", ConsoleSpanExporter), ("otlp-http", Http),
     ("otlp-grpc", Grpc)],
)  # fmt: skip
def test_the_exporter_is_chosen_by_setting(kind: str, expected: type) -> None:
    assert isinstance(tracing.exporter_for(Settings(otel_exporter=kind)), expected)


def test_the_grpc_exporter_uses_tls_unless_the_endpoint_says_http(tmp_path: Path) -> None:
    remote = Settings(otel_exporter="otlp-grpc", otel_endpoint="https://collector.internal:4317")
    assert tracing.grpc_exporter_arguments(remote)["insecure"] is False
    local = Settings(otel_exporter="otlp-grpc", otel_endpoint="http://localhost:4317")
    assert tracing.grpc_exporter_arguments(local)["insecure"] is True
    assert tracing.grpc_exporter_arguments(remote)["credentials"] is None  # the system's CAs
    ca = tmp_path / "ca.pem"
    ca.write_bytes(b"-----BEGIN CERTIFICATE-----\n")  # read, and handed to gRPC as given
    pinned = remote.model_copy(update={"otel_certificate_file": ca})
    assert isinstance(
        tracing.grpc_exporter_arguments(pinned)["credentials"], grpc.ChannelCredentials
    )
    assert isinstance(tracing.exporter_for(pinned), Grpc)


def test_the_default_exports_nothing() -> None:
    assert Settings().otel_exporter == "none"
    assert tracing.exporter_for(Settings()) is None


def test_an_unknown_exporter_is_a_configuration_error_naming_the_variable() -> None:
    with pytest.raises(ConfigurationError, match="CQRSW_OTEL_EXPORTER"):
        load_settings(otel_exporter="jaeger")


def test_with_nothing_recorded_a_request_still_gets_a_trace_id_for_its_events() -> None:
    provider = tracing.make_provider("test", sampler=ALWAYS_OFF)
    with provider.get_tracer("t").start_as_current_span("POST /orders") as span:
        assert not span.is_recording()
        traceparent = tracing.current_traceparent()
    assert traceparent is not None
    assert traceparent.split("-")[1] == f"{span.get_span_context().trace_id:032x}"


@pytest.mark.parametrize(
    "value", [None, "", "not-a-traceparent", "00-" + "0" * 32 + "-" + "1" * 16 + "-01"]
)
def test_a_missing_or_malformed_traceparent_gives_no_link(value: str | None) -> None:
    assert tracing.link_to(value) is None


def test_a_traceparent_gives_a_link_to_that_span() -> None:
    link = tracing.link_to("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
    assert link is not None
    assert link.context.trace_id == 0x0AF7651916CD43DD8448EB211C80319C
    assert link.context.span_id == 0xB7AD6B7169203331


def test_every_task_of_a_run_shares_one_trace_and_other_runs_do_not() -> None:
    def trace_id(dag_id: str, run_id: str) -> int:
        context = tracing.run_context(dag_id, run_id)
        return trace.get_current_span(context).get_span_context().trace_id

    first = trace_id("cqrs_warehouse_pipeline", "scheduled__2026-11-27T10:00:00+00:00")
    assert first == trace_id("cqrs_warehouse_pipeline", "scheduled__2026-11-27T10:00:00+00:00")
    assert first != trace_id("cqrs_warehouse_pipeline", "scheduled__2026-11-27T10:05:00+00:00")
    assert first != trace_id("rebuild_views", "scheduled__2026-11-27T10:00:00+00:00")


def test_sql_outside_any_operation_is_not_a_trace_of_its_own() -> None:
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import SpanKind

    exporter = InMemorySpanExporter()
    tracer = tracing.make_provider("t", processors=[SimpleSpanProcessor(exporter)]).get_tracer("t")
    with tracer.start_as_current_span("select", kind=SpanKind.CLIENT):  # a relay's idle poll
        pass
    with (
        tracer.start_as_current_span("POST /orders", kind=SpanKind.SERVER),
        tracer.start_as_current_span("insert", kind=SpanKind.CLIENT),
    ):
        pass
    assert [s.name for s in exporter.get_finished_spans()] == ["insert", "POST /orders"]
