"""Events written into the raw tables the way the ingest job writes them, without a broker.

Each event is made and validated by the contracts, decoded as the ingest decodes a Kafka
message, and written by ``ingest.warehouse.write_batch``: tests choose which events land in
which transaction, and when that transaction commits.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson
import psycopg

from config.settings import Settings
from contracts.catalog import BY_NAME
from contracts.envelope import EventMeta, make_event
from database import connections
from database.names import WAREHOUSE_DATABASE
from ingest.decode import decode
from ingest.warehouse import DeadLetter, RawEvent, write_batch
from tests.support.signing import signed, unit_trust

Event = dict[str, Any]

_offsets = itertools.count()


def _event(
    event_type: str,
    aggregate_id: str,
    version: int,
    payload: dict[str, Any],
    at: datetime,
    schema_version: int | None = None,
) -> Event:
    return make_event(
        event_type,
        aggregate_id=aggregate_id,
        aggregate_version=version,
        payload=payload,
        meta=EventMeta(producer=BY_NAME[event_type].producer),
        occurred_at=at,
        schema_version=schema_version,
    )


def order_created(
    order_id: str, user_id: str, at: datetime, customer_name: str = "Ada", schema_version: int = 2
) -> Event:
    """An order.created event; v1 has no channel (staging reads it as 'unknown')."""
    payload: dict[str, Any] = {"order_id": order_id, "user_id": user_id}
    payload |= {"customer_name": customer_name, "items": []}
    if schema_version >= 2:
        payload["channel"] = "api"
    return _event("order.created", order_id, 1, payload, at, schema_version)


def order_cancelled(order_id: str, at: datetime, version: int = 2) -> Event:
    payload = {"order_id": order_id, "reason": "changed my mind"}
    return _event("order.cancelled", order_id, version, payload, at)


def invoice_created(
    order_id: str, at: datetime, *, invoice_id: str | None = None, version: int = 1
) -> Event:
    invoice_id = invoice_id or str(uuid.uuid4())
    url = f"https://billing.example.com/{invoice_id}/v{version}.pdf"
    payload = {"invoice_id": invoice_id, "order_id": order_id, "invoice_url": url}
    return _event("invoice.created", invoice_id, version, payload, at)


def stock_updated(
    product_id: str, version: int, signed_amount: int, at: datetime, schema_version: int = 2
) -> Event:
    """A stock.updated event; v1 names the units `amount`, v2 `stock_amount` (the seed's)."""
    operation = "increase" if signed_amount > 0 else "decrease"
    amount_field = "amount" if schema_version == 1 else "stock_amount"
    payload = {"product_id": product_id, "operation": operation, amount_field: abs(signed_amount)}
    return _event("stock.updated", product_id, version, payload, at, schema_version)


def raw_row(event: Event) -> RawEvent:
    """The row the ingest job would write for this event, read from a Kafka message."""
    value = orjson.dumps(signed(event))
    key = event["aggregate_id"].encode()
    row = decode(event["event_type"], 0, next(_offsets), key, value, unit_trust())
    assert not isinstance(row, DeadLetter), row
    return row


def write_events(conn: psycopg.Connection, events: Sequence[Event]) -> None:
    """Write in the caller's transaction (a savepoint if one is open), skipping known event_ids."""
    write_batch(conn, [raw_row(e) for e in events], [], {})


def ingest_events(settings: Settings, events: Sequence[Event]) -> None:
    """Write the events in one committed transaction, as one ingest batch."""
    with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
        write_events(conn, events)
