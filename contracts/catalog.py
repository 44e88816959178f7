"""The catalogue of events: each event type, its current version, its topic and raw table."""

from __future__ import annotations

EVENT_TYPES: tuple[str, ...] = (
    "order.created",
    "order.cancelled",
    "invoice.created",
    "stock.updated",
)
# Each event type travels on a topic of the same name.
TOPICS: tuple[str, ...] = EVENT_TYPES
# What producers write now; older versions are still accepted and upcast on ingest.
CURRENT_SCHEMA_VERSION: dict[str, int] = {**dict.fromkeys(EVENT_TYPES, 1), "order.created": 2}
# The one service that emits each event type: the ingest trusts an event of a type only when
# a key of that producer signed it (contracts/signatures.py).
PRODUCER_OF: dict[str, str] = {
    "order.created": "orders",
    "order.cancelled": "orders",
    "invoice.created": "invoices",
    "stock.updated": "stock",
}
PRODUCERS: tuple[str, ...] = tuple(dict.fromkeys(PRODUCER_OF.values()))


def raw_table(event_type: str) -> str:
    """Name of the raw warehouse table of a topic: ``order.created`` -> ``order_created``."""
    return event_type.replace(".", "_")
