"""Reads batched by shape: each gets its own answer, a failed batch fails each of its reads."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, cast

import pytest
from psycopg_pool import AsyncConnectionPool

from services.read_api.read_batches import ReadBatches


class FakeConnection:
    closed = False


class FakePool:
    """Hands out one fake connection and counts what is taken and given back."""

    def __init__(self) -> None:
        self.taken = 0
        self.given_back = 0

    async def getconn(self) -> FakeConnection:
        self.taken += 1
        return FakeConnection()

    async def putconn(self, conn: FakeConnection) -> None:
        self.given_back += 1


def _pool() -> tuple[FakePool, AsyncConnectionPool]:
    fake = FakePool()
    return fake, cast(AsyncConnectionPool, fake)


def test_each_read_gets_its_own_answer_and_waiting_reads_share_a_batch() -> None:
    batches: list[tuple[str, list[int]]] = []

    async def doubled(_: Any, shape: str, items: Sequence[int]) -> list[int]:
        batches.append((shape, list(items)))
        await asyncio.sleep(0)
        return [2 * i for i in items]

    async def read() -> list[int]:
        fake, pool = _pool()
        reads = ReadBatches(doubled, max_in_flight=1)
        got = await asyncio.gather(
            *(reads.read(pool, "odd" if i % 2 else "even", i) for i in range(10))
        )
        assert fake.taken == fake.given_back == len(batches)
        return list(got)

    assert asyncio.run(read()) == [2 * i for i in range(10)]
    assert sorted(i for _, items in batches for i in items) == list(range(10))
    assert all(i % 2 == (shape == "odd") for shape, items in batches for i in items)
    assert len(batches) < 10


def test_a_failed_batch_fails_each_of_its_reads_and_later_reads_go_on() -> None:
    async def refuse_seven(_: Any, shape: str, items: Sequence[int]) -> list[int]:
        if 7 in items:
            raise LookupError("seven")
        return list(items)

    async def read() -> None:
        _, pool = _pool()
        reads = ReadBatches(refuse_seven, max_in_flight=1)
        got = await asyncio.gather(
            *(reads.read(pool, "one", i) for i in (5, 6, 7)), return_exceptions=True
        )
        assert [type(g) for g in got[1:]] == [LookupError, LookupError]
        assert await reads.read(pool, "one", 8) == 8

    asyncio.run(read())


def test_a_batch_answering_the_wrong_number_of_reads_fails_them() -> None:
    async def short(_: Any, shape: str, items: Sequence[int]) -> list[int]:
        return list(items)[:-1]

    async def read() -> None:
        _, pool = _pool()
        with pytest.raises(RuntimeError, match="answers"):
            await ReadBatches(short).read(pool, "one", 1)

    asyncio.run(read())
