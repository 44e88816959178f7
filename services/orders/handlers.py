"""Orders service layer: load, decide, save state and outbox row in one transaction."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from contracts.envelope import EventMeta, envelope
from services import outbox
from services.errors import Conflict
from services.idempotency import Idempotency, Response, run_once
from services.orders import domain


def _view(order: domain.Order) -> dict[str, Any]:
    return {"order_id": str(order.order_id), "status": order.status, "version": order.version}


def create_order(
    conn: psycopg.Connection, cmd: domain.CreateOrder, meta: EventMeta, idem: Idempotency
) -> Response:
    def action() -> Response:
        order, event = domain.create_order(cmd)
        cur = conn.execute(
            "insert into orders (order_id, user_id, customer_name, items, status, version,"
            " created_at, updated_at) values (%s, %s, %s, %s, %s, %s, now(), now())"
            " on conflict (order_id) do nothing",
            (
                order.order_id,
                order.user_id,
                order.customer_name,
                Jsonb([asdict(i) for i in order.items]),
                order.status,
                order.version,
            ),
        )
        if cur.rowcount == 0:
            raise Conflict("an order with this id already exists", order_id=str(order.order_id))
        outbox.add(conn, envelope(event, meta))
        return 201, _view(order)

    return run_once(conn, user_id=cmd.user_id, request=idem, action=action)


def _load_for_update(conn: psycopg.Connection, order_id: Any) -> domain.Order | None:
    row = conn.execute(
        "select order_id, user_id, customer_name, items, status, version from orders"
        " where order_id = %s for update",
        (order_id,),
    ).fetchone()
    if row is None:
        return None
    items = tuple(domain.OrderLine(i["product_id"], i["quantity"]) for i in row[3])
    return domain.Order(row[0], row[1], row[2], items, row[4], row[5])


def cancel_order(
    conn: psycopg.Connection, cmd: domain.CancelOrder, meta: EventMeta, idem: Idempotency
) -> Response:
    def action() -> Response:
        order, event = domain.cancel_order(_load_for_update(conn, cmd.order_id), cmd)
        conn.execute(
            "update orders set status = %s, version = %s, updated_at = now() where order_id = %s",
            (order.status, order.version, order.order_id),
        )
        outbox.add(conn, envelope(event, meta))
        return 200, _view(order)

    return run_once(conn, user_id=cmd.user_id, request=idem, action=action)
