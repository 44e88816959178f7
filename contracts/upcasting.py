"""Upcasters: old versions of an event's payload lifted to the current one, step by step.

Producers always write the current version, and the log is never rewritten: the ingest job
stores every event as it arrived, in the version it was written in. The warehouse reads one
shape per event type because its staging models upcast in SQL (``stg_<producer>__<verb>``);
these functions are the same steps for Python readers of raw (the load test's checks, the
tests' reference fold), and a test holds the two to the same result.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from contracts.catalog import CURRENT_SCHEMA_VERSION

Payload = dict[str, Any]


def _order_created_v1_to_v2(payload: Payload) -> Payload:
    # v1 did not say where an order came from; it is not guessed, it is marked unknown.
    return {**payload, "channel": "unknown"}


def _stock_updated_v1_to_v2(payload: Payload) -> Payload:
    # v2 takes the seed's name for the same number.
    renamed = {key: value for key, value in payload.items() if key != "amount"}
    return {**renamed, "stock_amount": payload["amount"]}


UPCASTERS: dict[tuple[str, int], Callable[[Payload], Payload]] = {
    ("order.created", 1): _order_created_v1_to_v2,
    ("stock.updated", 1): _stock_updated_v1_to_v2,
}


def upcast_payload(event_type: str, version: int, payload: Payload) -> Payload:
    """A payload written in ``version``, lifted to the current version of its event type."""
    while version < CURRENT_SCHEMA_VERSION[event_type]:
        payload = UPCASTERS[(event_type, version)](payload)
        version += 1
    return payload


def upcast(event: dict[str, Any]) -> dict[str, Any]:
    """The event with its payload lifted to the current schema version."""
    event_type, version = event["event_type"], event["schema_version"]
    target = CURRENT_SCHEMA_VERSION[event_type]
    if version >= target:
        return event
    payload = upcast_payload(event_type, version, event["payload"])
    return {**event, "schema_version": target, "payload": payload}
