"""The OpenTelemetry tracer provider every deployable installs, chosen by ``CQRSW_OTEL_EXPORTER``.

``none`` (the default) installs a provider whose sampler records nothing, so nothing tries the
network, yet trace ids are still made and carried into every event's envelope: a trace can be
followed by id in the warehouse even when no spans were exported. The other exporters record
every span and send it in batches.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanLimits, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
)
from opentelemetry.trace import Link, NonRecordingSpan, SpanContext, SpanKind, TraceFlags
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import Attributes

from config.settings import Settings

# An ingest batch links to every event in it; the SDK's default of 128 links would drop most.
MAX_LINKS = 10_000
_propagator = TraceContextTextMapPropagator()


def exporter_for(settings: Settings) -> SpanExporter | None:
    kind = settings.otel_exporter
    if kind == "console":
        return ConsoleSpanExporter()
    cert = str(settings.otel_certificate_file) if settings.otel_certificate_file else None
    if kind == "otlp-http":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        endpoint = settings.otel_endpoint or "http://localhost:4318/v1/traces"
        return OTLPSpanExporter(endpoint=endpoint, certificate_file=cert)
    if kind == "otlp-grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
            OTLPSpanExporter as GrpcExporter,
        )

        return GrpcExporter(**grpc_exporter_arguments(settings))
    return None


def grpc_exporter_arguments(settings: Settings) -> dict[str, Any]:
    """The gRPC exporter's endpoint and channel: TLS unless the endpoint says http:// (a
    collector on the same host or pod), checked against ``CQRSW_OTEL_CERTIFICATE_FILE`` if
    set, else the system's CAs."""
    import grpc

    endpoint = settings.otel_endpoint or "http://localhost:4317"
    cert = settings.otel_certificate_file
    credentials = (
        grpc.ssl_channel_credentials(root_certificates=cert.read_bytes()) if cert else None
    )
    return {
        "endpoint": endpoint,
        "insecure": endpoint.startswith("http://"),
        "credentials": credentials,
    }


def make_provider(
    service: str, sampler: Sampler | None = None, processors: Iterable[SpanProcessor] = ()
) -> TracerProvider:
    provider = TracerProvider(
        resource=Resource.create({SERVICE_NAME: f"cqrsw-{service}"}),
        sampler=sampler or RECORD_OPERATIONS,
        span_limits=SpanLimits(max_links=MAX_LINKS),
    )
    for processor in processors:
        provider.add_span_processor(processor)
    return provider


class NoOrphanQueries(Sampler):
    """Roots: everything but a lone client span, i.e. a SQL statement outside any operation.

    The relay polls its outbox twice a second; without this every poll would be a trace.
    """

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: trace.TraceState | None = None,
    ) -> SamplingResult:
        if kind == SpanKind.CLIENT:
            return SamplingResult(Decision.DROP)
        return ALWAYS_ON.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        return "NoOrphanQueries"


RECORD_OPERATIONS = ParentBased(root=NoOrphanQueries())

_provider: TracerProvider | None = None


def configure(settings: Settings, service: str) -> TracerProvider:
    """Install this process's tracer provider once; later calls keep the first one."""
    global _provider
    if _provider is None:
        exporter = exporter_for(settings)
        if exporter is None:
            _provider = make_provider(service, sampler=ALWAYS_OFF)
        else:
            _provider = make_provider(service, processors=[BatchSpanProcessor(exporter)])
        # Libraries that ask the global API (instrumentations without a provider) get it too.
        trace.set_tracer_provider(_provider)
    return _provider


def use_provider(provider: TracerProvider | None) -> TracerProvider | None:
    """Replace this process's provider (tests collect spans in memory); return the old one."""
    global _provider
    previous, _provider = _provider, provider
    return previous


def provider() -> TracerProvider | trace.TracerProvider:
    return _provider if _provider is not None else trace.get_tracer_provider()


def flush(timeout_ms: int = 5000) -> None:
    """Send what is buffered now: an Airflow task's process may end without running atexit."""
    current = provider()
    if isinstance(current, TracerProvider):
        current.force_flush(timeout_ms)


def tracer(name: str) -> trace.Tracer:
    """A tracer of the current provider, looked up at each use so a replaced one takes effect."""
    return provider().get_tracer(name)


def current_traceparent() -> str | None:
    carrier: dict[str, str] = {}
    _propagator.inject(carrier)
    return carrier.get("traceparent")


_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


def parse_traceparent(traceparent: str | None) -> SpanContext | None:
    """The span context a W3C ``traceparent`` names, or None when it is missing or malformed.

    Parsed here rather than by the propagator: the ingest links every event of a batch, and
    the propagator's extract costs about ten times as much per event.
    """
    match = _TRACEPARENT.match(traceparent) if traceparent else None
    if match is None:
        return None
    trace_id, span_id = int(match[1], 16), int(match[2], 16)
    if not trace_id or not span_id:
        return None
    return SpanContext(trace_id, span_id, is_remote=True, trace_flags=TraceFlags(int(match[3], 16)))


def link_to(traceparent: str | None) -> Link | None:
    span_context = parse_traceparent(traceparent)
    return Link(span_context) if span_context is not None else None


def run_context(dag_id: str, run_id: str) -> Context:
    """A parent context shared by every task of one pipeline run, derived from its run id.

    Airflow runs each task in its own process; deriving the trace id from ``dag_id/run_id``
    puts all of a run's spans into one trace without passing anything between tasks.
    """
    digest = hashlib.sha256(f"{dag_id}/{run_id}".encode()).digest()
    parent = SpanContext(
        trace_id=int.from_bytes(digest[:16], "big") or 1,
        span_id=int.from_bytes(digest[16:24], "big") or 1,
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
    )
    return trace.set_span_in_context(NonRecordingSpan(parent))
