"""The read API's connections: an asyncio pool, so a read never hops to a worker thread.

A read is one or two short queries; handing each to a worker thread and back cost more than
the queries (thread wake-ups, the GIL passed back and forth). Here a read awaits its
connection and its queries on the event loop. Reads are safe to repeat: one that meets a
connection that died with its server (a PostgreSQL restart) is read again on a fresh one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TypeVar

import psycopg
from fastapi import FastAPI, Request
from psycopg_pool import AsyncConnectionPool

from config.database_settings import DbRole
from config.settings import Settings
from database.names import WAREHOUSE_DATABASE
from services.app import CONNECTION_WAIT_S

POOL_SIZE = 10
T = TypeVar("T")
Read = Callable[[psycopg.AsyncConnection], Awaitable[T]]


def read_pool(settings: Settings) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """The app's pool of reading connections, as ``app.state.read_pool``, while it serves."""

    @asynccontextmanager
    async def opened(app: FastAPI) -> AsyncIterator[None]:
        pool = AsyncConnectionPool(
            settings.dsn(WAREHOUSE_DATABASE, DbRole.READ_API),
            min_size=POOL_SIZE,
            max_size=POOL_SIZE,
            open=False,
            timeout=CONNECTION_WAIT_S,
            kwargs={"autocommit": True},
        )
        await pool.open(wait=True, timeout=30)
        app.state.read_pool = pool
        try:
            yield
        finally:
            app.state.read_pool = None
            await pool.close()

    return opened


async def reading(request: Request, work: Read[T]) -> T:
    """``work`` with a pooled connection; once more on a fresh one if that one was dead.

    Taken and given back by ``getconn``/``putconn``, not ``pool.connection()``: that one
    also enters the connection's own block, whose commit an autocommit read has no use for
    (about a tenth of a first read's CPU, with the pool's own bookkeeping)."""
    return await in_read_pool(request.app.state.read_pool, work)


async def in_read_pool(pool: AsyncConnectionPool, work: Read[T]) -> T:
    """``work`` with a connection of ``pool``; once more on a fresh one if that one was dead."""
    conn = await pool.getconn()
    try:
        return await work(conn)
    except psycopg.OperationalError:
        if not conn.closed:
            raise  # not a dead connection: a query error, or the database refused
    finally:
        await pool.putconn(conn)  # a closed one is dropped and replaced by the pool
    await pool.check()  # drop the other dead ones too
    conn = await pool.getconn()
    try:
        return await work(conn)
    finally:
        await pool.putconn(conn)
