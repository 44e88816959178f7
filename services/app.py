"""Builds a FastAPI app for one deployable: pool, schema, outbox relay, errors, telemetry."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

import anyio
import psycopg
from fastapi import APIRouter, Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from config.settings import Settings
from database import connections
from services.auth import token_check
from services.errors import DomainError, http_status
from services.idempotency import IDEMPOTENCY_DDL, Idempotency, fingerprint
from services.outbox import OUTBOX_DDL, Relay
from services.outbox_metrics import OUTBOXES
from services.request_guard import RequestGuard
from services.responses import validation_problem
from services.telemetry import instrument
from services.tokens import TokenVerifier

log = logging.getLogger(__name__)


def create_service_app(
    *,
    name: str,
    settings: Settings,
    dbname: str,
    routers: list[APIRouter],
    schema_file: Path | None = None,
    write_side: bool = True,
) -> FastAPI:
    """A write service (outbox + relay + idempotency) or, with ``write_side=False``, a reader."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = connections.open_pool(settings, dbname)
        stop = threading.Event()
        relay_thread: threading.Thread | None = None
        if write_side:
            with pool.connection() as conn, conn.transaction():
                conn.execute("select pg_advisory_xact_lock(hashtext('schema'))")
                conn.execute(OUTBOX_DDL.encode())
                conn.execute(IDEMPOTENCY_DDL.encode())
                if schema_file is not None:
                    conn.execute(schema_file.read_bytes())
            OUTBOXES.watch(name, pool)
            if settings.relay_enabled:
                relay = Relay(settings, pool, service=name)
                relay_thread = threading.Thread(
                    target=relay.run_forever, args=(stop,), name=f"{name}-relay", daemon=True
                )
                relay_thread.start()
        app.state.pool = pool
        # Waiting for a pooled connection happens on its own threads, so requests queued for
        # the pool never hold the worker threads that requests holding connections need.
        app.state.pool_limiter = anyio.CapacityLimiter(pool.max_size)
        try:
            yield
        finally:
            OUTBOXES.forget(pool)
            stop.set()
            if relay_thread is not None:
                relay_thread.join(timeout=15)
            pool.close()

    app = FastAPI(title=f"cqrs-warehouse {name}", lifespan=lifespan)
    app.state.settings = settings
    app.state.service_name = name
    app.state.token_verifier = verifier = TokenVerifier(settings)
    app.add_exception_handler(RequestValidationError, validation_problem)

    @app.exception_handler(DomainError)
    async def _domain_error(_: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse({"detail": exc.message, **exc.details}, status_code=http_status(exc))

    # Added first, so it runs inside telemetry: its 401s and 413s carry a request id too.
    app.add_middleware(RequestGuard, verifier=verifier, max_body_bytes=settings.max_body_bytes)
    instrument(app, name, settings)
    app.include_router(token_check)  # what the gateway asks before letting a request through
    for router in routers:
        app.include_router(router)
    return app


async def _connection(request: Request) -> AsyncIterator[psycopg.Connection]:
    pool, limiter = request.app.state.pool, request.app.state.pool_limiter
    conn = await anyio.to_thread.run_sync(pool.getconn, limiter=limiter)
    try:
        yield conn
    finally:
        # Not through the limiter: its slots may all be taken by requests waiting for this.
        await anyio.to_thread.run_sync(pool.putconn, conn)


Conn = Annotated[psycopg.Connection, Depends(_connection)]


async def _idempotency(
    request: Request,
    key: Annotated[
        str | None,
        Header(alias="Idempotency-Key", pattern=r"^[\x21-\x7e]{1,200}$"),
    ] = None,
) -> Idempotency:
    body = await request.body()
    return Idempotency(key, fingerprint(request.method, request.url.path, body))


IdempotentRequest = Annotated[Idempotency, Depends(_idempotency)]
