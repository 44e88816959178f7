"""Upcasters: old versions of an event's payload lifted to the current one, step by step.

Producers always write the current version. Consumers (the ingest job) validate an event
against the contract of the version it was written in, then upcast it, so everything
downstream sees one shape per event type. Each step is a pure function on the payload.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from contracts.catalog import CURRENT_SCHEMA_VERSION

Payload = dict[str, Any]


def _order_created_v1_to_v2(payload: Payload) -> Payload:
    # v1 did not say where an order came from; it is not guessed, it is marked unknown.
    return {**payload, "channel": "unknown"}


UPCASTERS: dict[tuple[str, int], Callable[[Payload], Payload]] = {
    ("order.created", 1): _order_created_v1_to_v2,
}


def upcast(event: dict[str, Any]) -> dict[str, Any]:
    """The event with its payload lifted to the current schema version."""
    event_type, version, payload = event["event_type"], event["schema_version"], event["payload"]
    target = CURRENT_SCHEMA_VERSION[event_type]
    if version >= target:
        return event
    while version < target:
        payload = UPCASTERS[(event_type, version)](payload)
        version += 1
    return {**event, "schema_version": version, "payload": payload}
