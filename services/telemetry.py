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
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from prometheus_client import Counter, Histogram, make_asgi_app

from contracts.envelope import EventMeta

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-Id"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,200}$")
_propagator = TraceContextTextMapPropagator()

HTTP_REQUESTS = Counter(
    "cqrsw_http_requests_total", "HTTP requests served", ["service", "method", "status"]
)
HTTP_LATENCY = Histogram("cqrsw_http_request_seconds", "HTTP request latency", ["service"])

if not isinstance(trace.get_tracer_provider(), TracerProvider):
    trace.set_tracer_provider(TracerProvider())


def instrument(app: FastAPI, service: str) -> None:
    """Request id in and out, one span per request, counters, and ``/metrics``."""
    tracer = trace.get_tracer(f"cqrsw.{service}")

    @app.middleware("http")
    async def _observe(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        given = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = given if _VALID_REQUEST_ID.match(given) else str(uuid.uuid4())
        request.state.request_id = request_id
        parent = _propagator.extract(dict(request.headers))
        with (
            HTTP_LATENCY.labels(service).time(),
            tracer.start_as_current_span(
                f"{request.method} {request.url.path}", context=parent
            ) as span,
        ):
            carrier: dict[str, str] = {}
            _propagator.inject(carrier)
            request.state.traceparent = carrier.get("traceparent")
            span.set_attribute("request.id", request_id)
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
        return response

    app.mount("/metrics", make_asgi_app())

    @app.get("/health", tags=["ops"])
    def health() -> dict[str, str]:
        return {"status": "ok", "service": service}


def event_meta(request: Request) -> EventMeta:
    """What the current request adds to every event it causes."""
    return EventMeta(
        producer=request.app.state.service_name,
        request_id=getattr(request.state, "request_id", None),
        traceparent=getattr(request.state, "traceparent", None),
    )


Meta = Annotated[EventMeta, Depends(event_meta)]
