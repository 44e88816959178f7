"""Pages of orders read together in one statement are the pages each read alone gives."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from config.database_settings import DbRole
from config.settings import Settings
from database.names import WAREHOUSE_DATABASE
from pipeline.publish import publish_views
from services.read_api.order_queries import (
    OrderFilters,
    PageAsk,
    Shape,
    orders_with_invoices,
    pages_of_many,
)
from services.read_api.read_batches import ReadBatches
from services.read_api.serving import Row
from tests.support.dbt_in_process import InProcessDbt
from tests.support.raw_events import ingest_events, order_cancelled, order_created

T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def users(settings: Settings, dbt: InProcessDbt) -> list[str]:
    """Three users with 2, 4 and 6 orders an hour apart, every third one cancelled."""
    names = [f"batch-{uuid.uuid4().hex[:6]}-{k}" for k in range(3)]
    created = [
        (str(uuid.uuid4()), user, T0 + timedelta(hours=h))
        for k, user in enumerate(names)
        for h in range(2 + 2 * k)
    ]
    events = [order_created(*order) for order in created]
    events += [order_cancelled(order[0], T0 + timedelta(days=1)) for order in created[::3]]
    ingest_events(settings, events)
    dbt("run")
    publish_views(settings)
    return names


def _asks(users: list[str]) -> list[PageAsk]:
    late = (T0 + timedelta(hours=3), uuid.UUID(int=0))
    asks = [PageAsk(OrderFilters(u), limit) for u in users for limit in (1, 3, 11)]
    asks += [PageAsk(OrderFilters(u), 2, late) for u in users]
    asks += [PageAsk(OrderFilters(u, "cancelled"), 5) for u in users]
    asks += [PageAsk(OrderFilters(u, "created", T0 + timedelta(hours=1)), 4) for u in users]
    window = OrderFilters(users[2], None, T0 + timedelta(hours=1), T0 + timedelta(hours=4))
    asks += [PageAsk(window, 2), PageAsk(OrderFilters("nobody-ordered"), 3)]
    return asks


def _pool(settings: Settings) -> AsyncConnectionPool:
    dsn = settings.dsn(WAREHOUSE_DATABASE, DbRole.READ_API)
    return AsyncConnectionPool(dsn, min_size=2, max_size=2, open=False, kwargs={"autocommit": True})


async def _alone(conn: psycopg.AsyncConnection, asks: Sequence[PageAsk]) -> list[list[Row]]:
    return [await orders_with_invoices(conn, a.filters, a.limit, a.after) for a in asks]


def test_one_statement_reads_each_page_as_alone(settings: Settings, users: list[str]) -> None:
    async def compare() -> None:
        async with _pool(settings) as pool, pool.connection() as conn:
            asks = _asks(users)
            shapes = 0
            for shape, group in itertools.groupby(sorted(asks, key=lambda a: a.shape), _shape):
                of_shape = list(group)
                together = await pages_of_many(conn, shape, of_shape)
                assert together == await _alone(conn, of_shape)
                shapes += 1
            assert shapes == 5
            found = await pages_of_many(conn, asks[0].shape, asks[:9])
            assert [len(page) for page in found] == [1, 2, 2, 1, 3, 4, 1, 3, 6]

    asyncio.run(compare())


def test_reads_waiting_together_share_a_statement(settings: Settings, users: list[str]) -> None:
    batches: list[int] = []

    async def counted(
        conn: psycopg.AsyncConnection, shape: Shape, asks: Sequence[PageAsk]
    ) -> list[list[Row]]:
        batches.append(len(asks))
        return await pages_of_many(conn, shape, asks)

    async def read_all() -> None:
        pages = ReadBatches(counted, max_in_flight=1)
        async with _pool(settings) as pool:
            asks = _asks(users)
            got = await asyncio.gather(*(pages.read(pool, a.shape, a) for a in asks))
            async with pool.connection() as conn:
                assert list(got) == await _alone(conn, asks)

    asyncio.run(read_all())
    assert sum(batches) == len(_asks(users))
    assert len(batches) <= 6  # five shapes, and the first read, which waited for nobody


def _shape(ask: PageAsk) -> Shape:
    return ask.shape
