"""The data of bench/read_latency.py, written with COPY to both sides of the comparison.

The same generated orders and invoices go to the write services' tables (what the BFF
reads) and, joined by the mart's rules, to ``serving.orders_with_invoices`` (what the CQRS
read serves). Per order ``k``: user ``user-<k mod users>``, an invoice for four orders in
five (one second after the order), a cancellation for one in twenty (30 s after).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

from config.settings import Settings
from database import connections
from database.names import WAREHOUSE_DATABASE
from pipeline.publish import publish_views
from services.orders.domain import CHANNEL
from tests.support.dbt_in_process import InProcessDbt

T0 = datetime(2026, 1, 1, tzinfo=UTC)
ITEMS = json.dumps([{"product_id": "sku-1", "quantity": 1}])


def user_of(k: int, users: int) -> str:
    return f"user-{k % users}"


def _order(k: int, users: int) -> dict[str, Any]:
    created = T0 + timedelta(seconds=2 * k)
    invoiced, cancelled = k % 5 != 4, k % 20 == 3
    invoice_at = created + timedelta(seconds=1) if invoiced else None
    cancelled_at = created + timedelta(seconds=30) if cancelled else None
    return {
        "order_id": uuid.UUID(int=(1 << 64) + k),
        "user_id": user_of(k, users),
        "customer_name": f"Customer {k}",
        "channel": CHANNEL,  # what the BFF answers for every order of the orders service
        "created_at": created,
        "status": "cancelled" if cancelled else "invoiced" if invoiced else "created",
        "invoice_id": uuid.UUID(int=(2 << 64) + k) if invoiced else None,
        "invoice_url": f"https://billing.example.com/{k}.pdf" if invoiced else None,
        "invoice_at": invoice_at,
        # The invoice's ranking key, as the mart keeps it (one invoice, version 1).
        "invoice_version": 1 if invoiced else None,
        "invoice_issued_at": invoice_at,
        "invoice_event_id": uuid.UUID(int=(3 << 64) + k) if invoiced else None,
        "cancelled_at": cancelled_at,
        "updated_at": max(t for t in (created, invoice_at, cancelled_at) if t is not None),
    }


def orders(count: int, users: int, *, start: int = 0) -> Iterator[dict[str, Any]]:
    return (_order(k, users) for k in range(start, count))


def _text(value: Any) -> str:
    """A value in COPY's text format (the generated values hold no tab, newline or backslash)."""
    if value is None:
        return "\\N"
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _copy(conn: psycopg.Connection, table: sql.Composable, columns: list[str], rows: Any) -> None:
    """COPY in text format, written in large blocks: a row at a time would cost minutes."""
    statement = sql.SQL("copy {} ({}) from stdin").format(
        table, sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    with conn.cursor().copy(statement) as copy:
        block: list[str] = []
        for row in rows:
            block.append("\t".join(map(_text, row)))
            if len(block) == 50_000:
                copy.write("\n".join(block) + "\n")
                block.clear()
        if block:
            copy.write("\n".join(block) + "\n")


def prepare_schemas(settings: Settings) -> None:
    """The serving tables as a first (empty) publication makes them (the services' tables are
    the migrations', run when the stack came up)."""
    InProcessDbt(settings)("run")
    publish_views(settings)


def seed(settings: Settings, count: int, users: int) -> None:
    with connections.connect(settings, "orders") as conn:
        columns = ["order_id", "user_id", "customer_name", "items", "status", "version"]
        rows = (
            (o["order_id"], o["user_id"], o["customer_name"], ITEMS,
             "cancelled" if o["cancelled_at"] else "created", 2 if o["cancelled_at"] else 1,
             o["created_at"], o["cancelled_at"] or o["created_at"])
            for o in orders(count, users)
        )  # fmt: skip
        _copy(conn, sql.Identifier("orders"), [*columns, "created_at", "updated_at"], rows)
        conn.commit()
    with connections.connect(settings, "invoices") as conn:
        columns = ["invoice_id", "order_id", "invoice_url", "issued_by", "created_at"]
        invoice_rows = (
            (o["invoice_id"], o["order_id"], o["invoice_url"], "bench-billing", o["invoice_at"])
            for o in orders(count, users)
            if o["invoice_id"] is not None
        )
        _copy(conn, sql.Identifier("invoices"), columns, invoice_rows)
        conn.commit()
    with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
        served = [
            r[0]
            for r in conn.execute(
                "select column_name from information_schema.columns where table_schema ="
                " 'serving' and table_name = 'orders_with_invoices' order by ordinal_position"
            ).fetchall()
        ]
        values = {"changed_at_watermark": 0}
        served_rows = ([{**values, **o}[c] for c in served] for o in orders(count, users))
        _copy(conn, sql.Identifier("serving", "orders_with_invoices"), served, served_rows)
        conn.commit()
    for dbname in ("orders", "invoices", WAREHOUSE_DATABASE):
        with connections.connect(settings, dbname, autocommit=True) as conn:
            conn.execute("vacuum analyze")
