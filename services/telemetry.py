"""Tracing, request ids and Prometheus metrics, set up once per HTTP service."""

from __future__ import annotations

import logging
import random
import re
import time
import uuid
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from opentelemetry import trace
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
from prometheus_client import Counter, Histogram, make_asgi_app
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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


def _new_request_id() -> str:
    """A random UUID without ``uuid4``'s system call: it gave up the GIL on every request, and
    took it back only after the worker threads had their turn (a tenth of the loop's time
    under load). A request id needs to be unique, not unguessable."""
    return str(uuid.UUID(int=random.getrandbits(128), version=4))


def outcome(status: int) -> str:
    if status < 400:
        return "accepted"
    return "rejected" if status < 500 else "failed"


class Observe:
    """Request id in and out, counters and latency: a plain ASGI middleware, not Starlette's
    ``BaseHTTPMiddleware``, whose task and memory streams per request cost more event loop
    time than a whole constant-returning request (bench/read_latency.py)."""

    def __init__(self, app: ASGIApp, *, service: str):
        self.app = app
        self.service = service
        # Labelled once, not per request: ``labels()`` costs more than the count itself.
        self._latency = HTTP_LATENCY.labels(service)
        self._requests: dict[tuple[str, int], Counter] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = Headers(scope=scope).get(REQUEST_ID_HEADER, "")
        request_id = given if _VALID_REQUEST_ID.match(given) else _new_request_id()
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        # The instrumentation's server span is current here: events carry its context.
        state["traceparent"] = tracing.current_traceparent()
        trace.get_current_span().set_attribute("request.id", request_id)
        stamp = (REQUEST_ID_HEADER.lower().encode(), request_id.encode())
        status = 500
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status, started = message["status"], True
                message["headers"] = [*message.get("headers", ()), stamp]
            await send(message)

        began = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            method, path = scope["method"], scope["path"]
            log.exception("unhandled error in %s %s", method, path)
            if started:  # too late for an answer of our own; the server closes the connection
                raise
            # Still a JSON answer with the request id, counted like any other response.
            error = JSONResponse(
                {"detail": "internal error", "request_id": request_id}, status_code=500
            )
            await error(scope, receive, send_with_id)
        finally:
            self._latency.observe(time.perf_counter() - began)
            self._count(scope, status)

    def _count(self, scope: Scope, status: int) -> None:
        method = scope["method"]
        served = self._requests.get((method, status))
        if served is None:  # one per method and status, as the labelled series themselves
            served = self._requests[method, status] = HTTP_REQUESTS.labels(
                self.service, method, str(status)
            )
        served.inc()
        route = scope.get("route")
        if method in _COMMAND_METHODS and route is not None:
            COMMANDS.labels(self.service, route.path, outcome(status)).inc()


def instrument(
    app: FastAPI, service: str, settings: Settings, *, causes_events: bool = True
) -> None:
    """Request id in and out, a server span per request (FastAPI instrumentation), counters,
    and ``/metrics``. A service that ``causes_events=False`` (the read API) makes no server
    span unless spans are exported: nothing would carry its trace context, and the span
    cost a quarter of the read API's event loop time per request (bench/read_latency.py)."""
    provider = tracing.configure(settings, service)
    psycopg_instrumentor = PsycopgInstrumentor()
    # A span per SQL statement, only when spans go somewhere: with nothing exported they are
    # never recorded, yet made they tripled a read's database time (bench/read_latency.py).
    exported = settings.otel_exporter != "none"
    if exported and not psycopg_instrumentor.is_instrumented_by_opentelemetry:
        psycopg_instrumentor.instrument(tracer_provider=provider)

    # Added after the request guard, so it runs outside it: 401s and 413s carry a request id.
    app.add_middleware(Observe, service=service)
    if exported or causes_events:
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
