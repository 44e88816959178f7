"""Tracing, request ids and Prometheus metrics, set up once per HTTP service."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from opentelemetry import trace
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
from prometheus_client import Counter, Histogram, make_asgi_app

from config import tracing
from config.settings import Settings
from contracts.envelope import EventMeta

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-Id"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,200}$")
_COMMAND_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

HTTP_REQUESTS = Counter(
    "cqrsw_http_requests_total", "HTTP requests served", ["service", "method", "status"]
)
HTTP_LATENCY = Histogram("cqrsw_http_request_seconds", "HTTP request latency", ["service"])
COMMANDS = Counter(
    "cqrsw_commands_total",
    "Commands by route template and outcome (accepted, rejected: 4xx, failed: 5xx)",
    ["service", "route", "outcome"],
)


def outcome(status: int) -> str:
    if status < 400:
        return "accepted"
    return "rejected" if status < 500 else "failed"


def instrument(app: FastAPI, service: str, settings: Settings) -> None:
    """Request id in and out, a server span per request (FastAPI instrumentation), counters,
    and ``/metrics``."""
    provider = tracing.configure(settings, service)
    psycopg_instrumentor = PsycopgInstrumentor()
    # A span per SQL statement, only when spans go somewhere: with nothing exported they are
    # never recorded, yet made they tripled a read's database time (bench/read_latency.py).
    exported = settings.otel_exporter != "none"
    if exported and not psycopg_instrumentor.is_instrumented_by_opentelemetry:
        psycopg_instrumentor.instrument(tracer_provider=provider)

    @app.middleware("http")
    async def _observe(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        given = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = given if _VALID_REQUEST_ID.match(given) else str(uuid.uuid4())
        request.state.request_id = request_id
        # The instrumentation's server span is current here: events carry its context.
        request.state.traceparent = tracing.current_traceparent()
        trace.get_current_span().set_attribute("request.id", request_id)
        with HTTP_LATENCY.labels(service).time():
            try:
                response = await call_next(request)
            except Exception:
                # Still a JSON answer with the request id, counted like any other response.
                log.exception("unhandled error in %s %s", request.method, request.url.path)
                response = JSONResponse(
                    {"detail": "internal error", "request_id": request_id}, status_code=500
                )
        response.headers[REQUEST_ID_HEADER] = request_id
        HTTP_REQUESTS.labels(service, request.method, str(response.status_code)).inc()
        route = request.scope.get("route")
        if request.method in _COMMAND_METHODS and route is not None:
            COMMANDS.labels(service, route.path, outcome(response.status_code)).inc()
        return response

    FastAPIInstrumentor.instrument_app(
        app, tracer_provider=provider, excluded_urls="/health,/metrics"
    )
    app.mount("/metrics", make_asgi_app())


def event_meta(request: Request) -> EventMeta:
    """What the current request adds to every event it causes."""
    return EventMeta(
        producer=request.app.state.service_name,
        request_id=getattr(request.state, "request_id", None),
        traceparent=getattr(request.state, "traceparent", None),
    )


Meta = Annotated[EventMeta, Depends(event_meta)]
