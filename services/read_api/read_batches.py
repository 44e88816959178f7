"""Reads of one shape that wait at the same time are read together, in one statement.

Under load many reads wait for PostgreSQL at once. Each read alone pays a connection taken
and given back, a statement sent, the process put to sleep and woken, its rows received:
more CPU than all the rest of a first read. Here a read of a given shape joins the reads of
that shape already waiting; a batch is one statement on one pooled connection (the caller's
``read_many`` answers every item of it, in order). A read that finds fewer than
``max_in_flight`` batches running starts one at once, so a read alone waits for nobody;
under load the batches grow by themselves while the running ones are answered (as a group
commit does), up to ``max_batch`` reads.

A batch that fails fails each of its reads with the same error (PostgreSQL restarting, a
view not published yet); a dead connection is retried once on a fresh one, as any read is
(services/read_api/reading.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Generic, TypeVar

import psycopg
from psycopg_pool import AsyncConnectionPool

from services.read_api.reading import in_read_pool

S = TypeVar("S", bound=Hashable)  # a shape: reads of one shape share a statement
I = TypeVar("I")  # noqa: E741  # what one read asks
R = TypeVar("R")  # what it gets
ReadMany = Callable[[psycopg.AsyncConnection, S, Sequence[I]], Awaitable[Sequence[R]]]
MAX_BATCH = 64
MAX_IN_FLIGHT = 2


class ReadBatches(Generic[S, I, R]):
    def __init__(
        self,
        read_many: ReadMany[S, I, R],
        *,
        max_batch: int = MAX_BATCH,
        max_in_flight: int = MAX_IN_FLIGHT,
    ):
        self._read_many = read_many
        self._max_batch = max_batch
        self._max_in_flight = max_in_flight
        self._waiting: dict[S, list[tuple[I, asyncio.Future[R]]]] = {}
        self._running: set[asyncio.Task[None]] = set()  # referenced, so none is collected
        self._loop: asyncio.AbstractEventLoop | None = None

    async def read(self, pool: AsyncConnectionPool, shape: S, item: I) -> R:
        """What ``read_many`` answers for ``item``, read with the other waiting reads of
        ``shape``."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a new loop (an app served again, as in tests): start afresh
            self._loop, self._waiting, self._running = loop, {}, set()
        answer: asyncio.Future[R] = loop.create_future()
        self._waiting.setdefault(shape, []).append((item, answer))
        if len(self._running) < self._max_in_flight:
            task = loop.create_task(self._drain(pool))
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        return await answer

    async def _drain(self, pool: AsyncConnectionPool) -> None:
        """Read batches until no read waits."""
        while self._waiting:
            shape, waiting = next(iter(self._waiting.items()))
            batch = [w for w in waiting[: self._max_batch] if not w[1].done()]
            del waiting[: self._max_batch]
            if not waiting:
                del self._waiting[shape]
            if batch:
                await self._answer(pool, shape, batch)

    async def _answer(
        self, pool: AsyncConnectionPool, shape: S, batch: list[tuple[I, asyncio.Future[R]]]
    ) -> None:
        items = [item for item, _ in batch]

        async def work(conn: psycopg.AsyncConnection) -> Sequence[R]:
            return await self._read_many(conn, shape, items)

        try:
            found = await in_read_pool(pool, work)
            if len(found) != len(batch):
                raise RuntimeError(f"{len(batch)} reads in a batch, {len(found)} answers")
        except Exception as exc:
            for _, answer in batch:
                if not answer.done():
                    answer.set_exception(exc)
            return
        except BaseException:  # cancelled (the app is stopping): its reads with it
            for _, answer in batch:
                answer.cancel()
            raise
        for (_, answer), result in zip(batch, found, strict=True):
            if not answer.done():  # not cancelled meanwhile
                answer.set_result(result)
