"""The stock event store on PostgreSQL: snapshots are only an optimisation, the log only grows."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from psycopg import errors

from config.database_settings import DbRole
from config.settings import Settings
from contracts.envelope import EventMeta
from database import connections
from services.idempotency import Idempotency
from services.stock import domain, handlers
from services.stock.repository import PostgresStockRepository
from services.stock.unit_of_work import PostgresStockUnitOfWork

Auth = Callable[..., dict[str, str]]


def test_snapshots_change_no_answer(settings: Settings, stock: TestClient) -> None:
    product = f"sku-{uuid.uuid4().hex[:8]}"
    meta = EventMeta(producer="stock")
    with connections.connect(settings, "stock", autocommit=True) as conn:
        changes: list[tuple[domain.Operation, int]] = [
            ("increase", 3),
            ("decrease", 1),
            ("decrease", 1),
        ]
        for operation, amount in changes * 8:
            cmd = domain.ChangeStock(product, operation, amount)
            handlers.change_stock(
                PostgresStockUnitOfWork(conn),
                cmd,
                meta,
                Idempotency(None, ""),
                user_id="t",
                snapshot_every=5,
            )
        snapshots = conn.execute(
            "select count(*) from product_stock_snapshots where product_id = %s", (product,)
        ).fetchone()
        store = PostgresStockRepository(conn)
        with conn.transaction(force_rollback=True):
            with_snapshots = store.load(product)
            replayed = store.load(product, use_snapshots=False)
            conn.execute("delete from product_stock_snapshots where product_id = %s", (product,))
            after_delete = store.load(product)
    assert snapshots == (4,)  # versions 5, 10, 15 and 20
    assert with_snapshots == replayed == after_delete == domain.ProductStock(product, 8, 24)


def test_log_is_append_only(settings: Settings, stock: TestClient, auth: Auth) -> None:
    product = f"sku-{uuid.uuid4().hex[:8]}"
    url = f"/products/{product}/stock-operations"
    stock.post(url, json={"operation": "increase", "amount": 1}, headers=auth("w", "stock"))
    with (
        connections.connect(settings, "stock") as conn,
        pytest.raises(errors.RaiseException, match="append-only"),
    ):
        conn.execute(
            "update product_stock_operations set amount = 9 where product_id = %s", (product,)
        )


def test_the_log_cannot_be_truncated_by_the_stock_role(
    settings: Settings, stock: TestClient, auth: Auth
) -> None:
    product = f"sku-{uuid.uuid4().hex[:8]}"
    url = f"/products/{product}/stock-operations"
    stock.post(url, json={"operation": "increase", "amount": 1}, headers=auth("w", "stock"))
    with (
        connections.connect(settings, "stock", role=DbRole.STOCK) as conn,
        pytest.raises(errors.RaiseException, match=r"append-only \(TRUNCATE refused\)"),
    ):
        conn.execute("truncate product_stock_operations")
    with connections.connect(settings, "stock") as conn:
        rows = conn.execute(
            "select count(*) from product_stock_operations where product_id = %s", (product,)
        ).fetchall()
    assert rows == [(1,)]
