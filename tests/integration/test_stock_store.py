"""The stock event store on PostgreSQL: snapshots are only an optimisation, the log only grows."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import errors

from config.database_settings import DbRole
from config.settings import Settings
from contracts.envelope import EventMeta
from database import connections
from database.roles import STOCK_LOG_OWNER
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


# Each a way the log's owner could rewrite history; the stock role is not that owner.
NOT_FOR_THE_STOCK_ROLE = (
    "drop trigger append_only on product_stock_operations",
    "drop trigger no_truncate on product_stock_operations",
    "alter table product_stock_operations disable trigger append_only",
    f"alter table product_stock_operations owner to {DbRole.STOCK.login}",
    "truncate product_stock_operations",
    "update product_stock_operations set amount = 9",
    "delete from product_stock_operations",
    "drop table product_stock_operations",
    "alter schema public rename to history",
    "create or replace function product_stock_operations_append_only() returns trigger"
    " language plpgsql as $$ begin return old; end $$",
)


@pytest.mark.parametrize("statement", NOT_FOR_THE_STOCK_ROLE)
def test_the_stock_role_can_only_append_to_the_log(
    settings: Settings, stock: TestClient, auth: Auth, statement: str
) -> None:
    product = f"sku-{uuid.uuid4().hex[:8]}"
    url = f"/products/{product}/stock-operations"
    r = stock.post(url, json={"operation": "increase", "amount": 1}, headers=auth("w", "stock"))
    assert r.status_code == 201, r.text
    with (
        connections.connect(settings, "stock", role=DbRole.STOCK) as conn,
        pytest.raises(errors.InsufficientPrivilege),
    ):
        conn.execute(statement)
    with connections.connect(settings, "stock") as conn:
        rows = conn.execute(
            "select operation, amount from product_stock_operations where product_id = %s",
            (product,),
        ).fetchall()
        triggers = conn.execute(
            "select tgname from pg_trigger where tgrelid = 'product_stock_operations'::regclass"
            " and tgenabled = 'O' order by tgname"
        ).fetchall()
    assert rows == [("increase", 1)]
    assert triggers == [("append_only",), ("no_truncate",)]


def test_the_stock_role_cannot_drop_its_database(settings: Settings) -> None:
    with (
        psycopg.connect(settings.dsn("postgres", DbRole.STOCK), autocommit=True) as conn,
        pytest.raises(errors.InsufficientPrivilege, match="must be owner"),
    ):
        conn.execute("drop database stock")


def test_the_log_owner_still_meets_the_triggers(settings: Settings) -> None:
    """Whoever becomes the owner (the admin, for a repair) is still refused by the triggers."""
    with (
        connections.connect(settings, "stock") as conn,
        pytest.raises(errors.RaiseException, match=r"append-only \(TRUNCATE refused\)"),
    ):
        conn.execute("select set_config('role', %s, false)", (STOCK_LOG_OWNER,))
        conn.execute("truncate product_stock_operations")
