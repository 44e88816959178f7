"""Where orders are kept: the repository contract, on PostgreSQL and in memory."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

from services.in_memory import StagedTable
from services.orders.domain import Order, OrderLine


class OrderRepository(ABC):
    @abstractmethod
    def add(self, order: Order, at: str | None = None) -> bool:
        """Add a new order made at ``at`` (its event's time; now if None); False if it exists."""

    @abstractmethod
    def get(self, order_id: UUID) -> Order | None:
        """The order, held against concurrent changes until the unit of work ends."""

    @abstractmethod
    def save(self, order: Order, at: str | None = None) -> None:
        """Store the new state of an order that ``get`` returned, changed at ``at``."""


class PostgresOrderRepository(OrderRepository):
    def __init__(self, conn: psycopg.Connection):
        self.conn = conn

    def add(self, order: Order, at: str | None = None) -> bool:
        cur = self.conn.execute(
            "insert into orders (order_id, user_id, customer_name, items, status, version,"
            " created_at, updated_at) select %s, %s, %s, %s, %s, %s, t, t"
            " from (select coalesce(%s::timestamptz, now()) as t) as made"
            " on conflict (order_id) do nothing",
            (
                order.order_id,
                order.user_id,
                order.customer_name,
                Jsonb([asdict(i) for i in order.items]),
                order.status,
                order.version,
                at,
            ),
        )
        return cur.rowcount == 1

    def get(self, order_id: UUID) -> Order | None:
        row = self.conn.execute(
            "select order_id, user_id, customer_name, items, status, version from orders"
            " where order_id = %s for update",
            (order_id,),
        ).fetchone()
        if row is None:
            return None
        items = tuple(OrderLine(i["product_id"], i["quantity"]) for i in row[3])
        return Order(row[0], row[1], row[2], items, row[4], row[5])

    def save(self, order: Order, at: str | None = None) -> None:
        self.conn.execute(
            "update orders set status = %s, version = %s,"
            " updated_at = coalesce(%s::timestamptz, now()) where order_id = %s",
            (order.status, order.version, at, order.order_id),
        )


class InMemoryOrderRepository(OrderRepository):
    def __init__(self, rows: StagedTable[UUID, Order]):
        self.rows = rows

    def add(self, order: Order, at: str | None = None) -> bool:
        if self.rows.get(order.order_id) is not None:
            return False
        self.rows.put(order.order_id, order)
        return True

    def get(self, order_id: UUID) -> Order | None:
        return self.rows.get(order_id)

    def save(self, order: Order, at: str | None = None) -> None:
        self.rows.put(order.order_id, order)
