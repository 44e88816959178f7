"""Builds a FastAPI app for one deployable: pool, schema, outbox relay, errors, telemetry."""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Annotated, Any, TypeVar

import anyio
import psycopg
from fastapi import APIRouter, Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from psycopg_pool import PoolTimeout
from starlette.middleware import Middleware

from config.database_settings import DbRole
from config.settings import Settings
from contracts.catalog import PRODUCERS
from contracts.key_files import signer_for
from database import connections, migrate
from services.auth import token_check
from services.errors import DomainError, Unavailable, http_status
from services.health import router as health
from services.idempotency import Idempotency, KeyPurge, fingerprint
from services.outbox import Relay
from services.outbox_metrics import OUTBOXES
from services.position import PositionTokens
from services.request_guard import RequestGuard
from services.responses import validation_problem
from services.telemetry import instrument
from services.tokens import TokenVerifier

log = logging.getLogger(__name__)
CONNECTION_WAIT_S = 5.0  # longest a request waits for a pooled connection
SCHEMA_WAIT_S = 60.0  # longest a write service waits at start for its database's migrations
TOO_MANY_REQUESTS: dict[int | str, dict[str, Any]] = {
    429: {
        "description": "Too many requests from this token or address (the gateway's rate"
        " limits); retry after the Retry-After header's seconds"
    }
}


def create_service_app(
    *,
    name: str,
    settings: Settings,
    dbname: str,
    routers: list[APIRouter],
    write_side: bool = True,
    inner_middleware: Sequence[Middleware] = (),
    background: Sequence[Callable[[threading.Event], None]] = (),
    resources: Sequence[Callable[[FastAPI], AbstractAsyncContextManager[None]]] = (),
) -> FastAPI:
    """A write service (outbox + relay + idempotency) or, with ``write_side=False``, a reader.
    ``inner_middleware`` runs after the request guard: on authenticated requests only.
    ``background`` runs on daemon threads while the app serves, until the event is set;
    ``resources`` are entered at start-up and left at shutdown (the read API's async pool)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if write_side and name in PRODUCERS:
            # Its relay signs every batch it publishes with its own key; none: no start (prod).
            app.state.event_signer = signer_for(settings, name)
        if write_side:
            # The tables are the migrations' (run by `stack up` or the init job): wait for them.
            await anyio.to_thread.run_sync(
                migrate.wait_until_current, settings, dbname, SCHEMA_WAIT_S
            )
        # Each service connects as its own role (config.database_settings.DbRole: its name).
        # A reader needs no check per checkout: in_pool retries a read on a dead connection.
        pool = connections.open_pool(settings, dbname, role=DbRole(name), checked=write_side)
        stop = threading.Event()
        relay_thread: threading.Thread | None = None
        purge_thread: threading.Thread | None = None
        if write_side:
            OUTBOXES.watch(name, pool)
            purge = KeyPurge(
                pool, settings.idempotency_window_s, settings.idempotency_purge_every_s
            )
            purge_thread = threading.Thread(
                target=purge.run_forever, args=(stop,), name=f"{name}-key-purge", daemon=True
            )
            purge_thread.start()
            if settings.relay_enabled:
                relay = Relay(
                    settings, pool, service=name, signer=getattr(app.state, "event_signer", None)
                )
                relay_thread = threading.Thread(
                    target=relay.run_forever, args=(stop,), name=f"{name}-relay", daemon=True
                )
                relay_thread.start()
        helpers = [
            threading.Thread(
                target=run, args=(stop,), name=f"{name}-{run.__qualname__}", daemon=True
            )
            for run in background
        ]
        for helper in helpers:
            helper.start()
        app.state.pool = pool
        app.state.relay_thread = relay_thread  # readiness checks it is alive
        # Waiting for a pooled connection happens on its own threads, so requests queued for
        # the pool never hold the worker threads that requests holding connections need.
        app.state.pool_limiter = anyio.CapacityLimiter(pool.max_size)
        try:
            async with AsyncExitStack() as opened:
                for resource in resources:
                    await opened.enter_async_context(resource(app))
                # What start-up made (modules, routes, models, validators) lives as long as
                # the process: moved out of the collector's reach, so a full collection, which
                # long-lived kept answers set off, walks only what was made since (gc.freeze,
                # Python's documented way) instead of pausing every request for all of it.
                gc.freeze()
                yield
        finally:
            gc.unfreeze()  # an app made in a longer process (tests) leaves nothing pinned
            OUTBOXES.forget(pool)
            stop.set()
            for thread in [*helpers, relay_thread, purge_thread]:
                if thread is not None:
                    thread.join(timeout=15)
            app.state.pool = app.state.relay_thread = None
            pool.close()

    app = FastAPI(title=f"cqrs-warehouse {name}", lifespan=lifespan)
    app.state.settings = settings
    app.state.service_name = name
    app.state.token_verifier = verifier = TokenVerifier(settings)
    # Write services seal the positions they answer with; the read API opens them.
    app.state.position_tokens = PositionTokens(settings.read_token_secret)
    app.add_exception_handler(RequestValidationError, validation_problem)

    @app.exception_handler(DomainError)
    async def _domain_error(_: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse({"detail": exc.message, **exc.details}, status_code=http_status(exc))

    # The database restarting or out of reach is no bug of the request: 503, not 500, so
    # clients retry (with the same Idempotency-Key, which makes the retry safe).
    @app.exception_handler(psycopg.OperationalError)
    @app.exception_handler(PoolTimeout)
    async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
        log.warning("%s: database unavailable: %s", name, exc)
        error = Unavailable(f"the {name} database is unavailable; retry later")
        response = await _domain_error(request, error)
        response.headers["Retry-After"] = "1"
        return response

    for layer in reversed(inner_middleware):  # the first listed runs first
        app.add_middleware(layer.cls, *layer.args, **layer.kwargs)
    # Added first, so it runs inside telemetry: its 401s and 413s carry a request id too.
    app.add_middleware(RequestGuard, verifier=verifier, max_body_bytes=settings.max_body_bytes)
    instrument(app, name, settings, causes_events=write_side)
    app.include_router(health)
    app.include_router(token_check)  # what the gateway asks before letting a request through
    for router in routers:
        # The gateway in front of every service answers 429 past its rate limits.
        app.include_router(router, responses=TOO_MANY_REQUESTS)
    return app


async def _connection(request: Request) -> AsyncIterator[psycopg.Connection]:
    pool, limiter = request.app.state.pool, request.app.state.pool_limiter
    # Not the pool's 30 s: a request that cannot get a connection soon gets a 503 (the
    # database is down or overloaded) instead of holding its client until it times out.
    conn = await anyio.to_thread.run_sync(
        lambda: pool.getconn(timeout=CONNECTION_WAIT_S), limiter=limiter
    )
    try:
        yield conn
    finally:
        # Not through the limiter: its slots may all be taken by requests waiting for this.
        await anyio.to_thread.run_sync(pool.putconn, conn)


Conn = Annotated[psycopg.Connection, Depends(_connection)]
T = TypeVar("T")


async def in_pool(request: Request, work: Callable[[psycopg.Connection], T]) -> T:
    """``work`` (a read: safe to repeat) with a pooled connection, all in one worker thread:
    a hop to a thread and back for each step (take, query, give back) costs more than the query.
    The limiter has as many slots as the pool has connections, and each thread gives back the
    connection it took, so no thread waits for a slot another waiting thread holds."""
    pool, limiter = request.app.state.pool, request.app.state.pool_limiter

    def run() -> T:
        taken: list[psycopg.Connection] = []
        try:
            with pool.connection(timeout=CONNECTION_WAIT_S) as conn:
                taken.append(conn)
                return work(conn)
        except psycopg.OperationalError:
            if not taken or not taken[0].closed:
                raise  # not a dead connection: a query error, or the database refused
        # A connection that died with its server (a PostgreSQL restart): the pool drops it;
        # drop the other dead ones too, then read once more. Reads are safe to repeat.
        pool.check()
        with pool.connection(timeout=CONNECTION_WAIT_S) as conn:
            return work(conn)

    return await anyio.to_thread.run_sync(run, limiter=limiter)


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


async def _position_tokens(request: Request) -> PositionTokens:  # no thread: no IO
    tokens: PositionTokens = request.app.state.position_tokens
    return tokens


PositionSeal = Annotated[PositionTokens, Depends(_position_tokens)]
