"""BFF deployable (for the CQRS comparison): ``uvicorn services.bff.app:create_app --factory``.

No database of its own: one pooled HTTP client to the orders and invoices services.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from services.bff.api import router
from services.bff.settings import BffSettings, bff_settings_or_exit
from services.bff.upstream import Refused, Upstreams
from services.errors import DomainError, http_status
from services.request_guard import RequestGuard
from services.responses import validation_problem
from services.telemetry import instrument
from services.tokens import TokenVerifier

UPSTREAM_CONNECTIONS = 64  # above the benchmark's 32 concurrent clients, each asking twice
UPSTREAM_TIMEOUT_S = 5.0


def create_app(settings: BffSettings | None = None) -> FastAPI:
    settings = settings or bff_settings_or_exit()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        limits = httpx.Limits(
            max_connections=UPSTREAM_CONNECTIONS, max_keepalive_connections=UPSTREAM_CONNECTIONS
        )
        async with httpx.AsyncClient(limits=limits, timeout=UPSTREAM_TIMEOUT_S) as client:
            app.state.upstreams = Upstreams(client, settings.orders_url, settings.invoices_url)
            yield

    app = FastAPI(title="cqrs-warehouse bff", lifespan=lifespan)
    app.state.settings = settings
    app.state.service_name = "bff"
    app.state.token_verifier = verifier = TokenVerifier(settings)
    app.add_exception_handler(RequestValidationError, validation_problem)

    @app.exception_handler(DomainError)
    async def _domain_error(_: Request, exc: DomainError) -> JSONResponse:
        headers = {"Retry-After": "1"} if http_status(exc) == 503 else None
        return JSONResponse({"detail": exc.message}, status_code=http_status(exc), headers=headers)

    @app.exception_handler(Refused)
    async def _refused(_: Request, exc: Refused) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status)

    app.add_middleware(RequestGuard, verifier=verifier, max_body_bytes=settings.max_body_bytes)
    instrument(app, "bff", settings)
    app.include_router(router)
    return app
