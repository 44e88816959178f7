"""Request field types whose limits are read from the event contracts, never repeated here.

The API must accept exactly what the event it causes may carry: a longer name or URL would
pass the route and then fail the contract check where the event is made (a 500).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import AfterValidator, Field

from contracts.catalog import CURRENT_SCHEMA_VERSION
from contracts.envelope import payload_schema


def contract_property(event_type: str, *path: str) -> dict[str, Any]:
    """The schema of one payload field of the current version; ``[]`` steps into items."""
    schema = payload_schema(event_type, CURRENT_SCHEMA_VERSION[event_type])
    for step in path:
        schema = schema["items"] if step == "[]" else schema["properties"][step]
    return schema


def is_storable_text(value: str) -> bool:
    """No NUL (PostgreSQL text refuses it) and no lone surrogate (not encodable as UTF-8)."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _storable(value: str) -> str:
    if not is_storable_text(value):
        raise ValueError("must be valid Unicode without NUL characters")
    return value


STORABLE = AfterValidator(_storable)
"""Last in ``Annotated[str, contract_field(...), STORABLE]``: after the limits, so the
OpenAPI keeps the contract's pattern; refuses what PostgreSQL and orjson cannot store."""

_KEYWORDS = {
    "minLength": "min_length",
    "maxLength": "max_length",
    "pattern": "pattern",
    "minimum": "ge",
    "maximum": "le",
    "maxItems": "max_length",
    "description": "description",
}


def contract_limits(event_type: str, *path: str) -> dict[str, Any]:
    """The contract's limits on one payload field, as keyword arguments of ``Field``/``Query``."""
    spec = contract_property(event_type, *path)
    return {arg: spec[key] for key, arg in _KEYWORDS.items() if key in spec}


def contract_field(event_type: str, *path: str) -> Any:
    """``Field(...)`` with the limits the contract puts on this payload field."""
    return Field(**contract_limits(event_type, *path))


SUBJECT_MAX_LENGTH: int = contract_property("order.created", "user_id")["maxLength"]
"""A token's ``sub`` becomes the order's ``user_id``: the same limit."""


def _in_utc(moment: datetime) -> datetime:
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError("is outside the years 1 to 9999 once in UTC") from None


# An instant as PostgreSQL takes it: RFC 3339 admits offsets up to +-23:59, timestamptz only
# up to +-15:59, so the instant is passed on in UTC (an out-of-range offset was a 500).
IN_UTC = AfterValidator(_in_utc)
