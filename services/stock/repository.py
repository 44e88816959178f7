"""Event store of product stock: the append-only log and its snapshots, on PostgreSQL and in memory.

Loading costs O(operations since the latest snapshot); appending a version someone else
appended first raises ``VersionConflict`` (optimistic concurrency).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime

import psycopg
from psycopg import errors

from services.in_memory import StagedTable
from services.stock.domain import ProductStock, StockOperation, fold

VERSION_CONFLICT = "product_stock_operations_pkey"


class VersionConflict(Exception):
    """Another writer appended this version of the product first: load and decide again."""


class StockRepository(ABC):
    @abstractmethod
    def load(self, product_id: str, *, use_snapshots: bool = True) -> ProductStock:
        """Latest snapshot plus the operations after it (or the whole log without snapshots)."""

    @abstractmethod
    def append(
        self,
        product_id: str,
        op: StockOperation,
        *,
        event_id: str,
        occurred_at: datetime | str,
        request_id: str | None,
    ) -> None:
        """Add one operation; raise ``VersionConflict`` if its version is taken."""

    @abstractmethod
    def save_snapshot(self, state: ProductStock) -> None: ...


class PostgresStockRepository(StockRepository):
    def __init__(self, conn: psycopg.Connection):
        self.conn = conn

    def load(self, product_id: str, *, use_snapshots: bool = True) -> ProductStock:
        state = ProductStock(product_id)
        if use_snapshots:
            row = self.conn.execute(
                "select version, stock from product_stock_snapshots where product_id = %s"
                " order by version desc limit 1",
                (product_id,),
            ).fetchone()
            if row is not None:
                state = ProductStock(product_id, int(row[1]), int(row[0]))
        tail = self.conn.execute(
            "select version, operation, amount from product_stock_operations"
            " where product_id = %s and version > %s order by version",
            (product_id, state.version),
        )
        return fold(state, (StockOperation(v, o, a) for v, o, a in tail))

    def append(
        self,
        product_id: str,
        op: StockOperation,
        *,
        event_id: str,
        occurred_at: datetime | str,
        request_id: str | None,
    ) -> None:
        try:
            self.conn.execute(
                "insert into product_stock_operations"
                " (product_id, version, operation, amount, event_id, occurred_at, request_id)"
                " values (%s, %s, %s, %s, %s, %s, %s)",
                (
                    product_id,
                    op.version,
                    op.operation,
                    op.amount,
                    event_id,
                    occurred_at,
                    request_id,
                ),
            )
        except errors.UniqueViolation as exc:
            if exc.diag.constraint_name != VERSION_CONFLICT:
                raise
            raise VersionConflict(f"{product_id} v{op.version}") from exc

    def save_snapshot(self, state: ProductStock) -> None:
        self.conn.execute(
            "insert into product_stock_snapshots (product_id, version, stock) values (%s, %s, %s)"
            " on conflict do nothing",
            (state.product_id, state.version, state.stock),
        )


class InMemoryStockRepository(StockRepository):
    def __init__(
        self,
        log: StagedTable[str, tuple[StockOperation, ...]],
        snapshots: StagedTable[str, ProductStock],
    ):
        self.log = log
        self.snapshots = snapshots

    def load(self, product_id: str, *, use_snapshots: bool = True) -> ProductStock:
        snapshot = self.snapshots.get(product_id) if use_snapshots else None
        state = snapshot or ProductStock(product_id)
        return fold(
            state, (op for op in self.log.get(product_id) or () if op.version > state.version)
        )

    def append(
        self,
        product_id: str,
        op: StockOperation,
        *,
        event_id: str,
        occurred_at: datetime | str,
        request_id: str | None,
    ) -> None:
        ops = self.log.get(product_id) or ()
        if op.version != len(ops) + 1:
            raise VersionConflict(f"{product_id} v{op.version}")
        self.log.put(product_id, (*ops, op))

    def save_snapshot(self, state: ProductStock) -> None:
        self.snapshots.put(state.product_id, state)
