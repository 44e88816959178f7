"""Event store of product stock: the append-only log and its snapshots in PostgreSQL."""

from __future__ import annotations

from datetime import datetime

import psycopg

from services.stock.domain import ProductStock, StockOperation, fold

VERSION_CONFLICT = "product_stock_operations_pkey"


def load(conn: psycopg.Connection, product_id: str, *, use_snapshots: bool = True) -> ProductStock:
    """Latest snapshot plus the operations after it: O(operations since the snapshot)."""
    state = ProductStock(product_id)
    if use_snapshots:
        row = conn.execute(
            "select version, stock from product_stock_snapshots where product_id = %s"
            " order by version desc limit 1",
            (product_id,),
        ).fetchone()
        if row is not None:
            state = ProductStock(product_id, int(row[1]), int(row[0]))
    tail = conn.execute(
        "select version, operation, amount from product_stock_operations"
        " where product_id = %s and version > %s order by version",
        (product_id, state.version),
    )
    return fold(state, (StockOperation(v, o, a) for v, o, a in tail))


def append(
    conn: psycopg.Connection,
    product_id: str,
    op: StockOperation,
    *,
    event_id: str,
    occurred_at: datetime | str,
    request_id: str | None,
) -> None:
    """Add one operation; a concurrent writer of this version makes it raise UniqueViolation."""
    conn.execute(
        "insert into product_stock_operations"
        " (product_id, version, operation, amount, event_id, occurred_at, request_id)"
        " values (%s, %s, %s, %s, %s, %s, %s)",
        (product_id, op.version, op.operation, op.amount, event_id, occurred_at, request_id),
    )


def save_snapshot(conn: psycopg.Connection, state: ProductStock) -> None:
    conn.execute(
        "insert into product_stock_snapshots (product_id, version, stock) values (%s, %s, %s)"
        " on conflict do nothing",
        (state.product_id, state.version, state.stock),
    )
