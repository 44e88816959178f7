"""Position tokens: where a command's event will be in the log, as an opaque string.

A command response carries one; a read that passes it back learns whether the view it is
served already includes that event. The token names the event (topic and event id), which
is all the warehouse needs to find its raw row, and where it goes in the log (aggregate id,
the partition key, and aggregate version). It is base64url of compact JSON: opaque to
clients, readable when debugging, and nothing in it is secret (it is the caller's own write).
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from typing import Annotated, Any

import orjson
from pydantic import Field

from contracts.catalog import TOPICS
from services.errors import DomainError

_VERSION = 1

PositionToken = Annotated[
    str,
    Field(
        description="Opaque position of this command's event in the log. Send it to the read"
        " API as X-Position-Token to learn whether what it serves includes this write."
    ),
]


class BadPositionToken(DomainError):
    """A position token that this service did not issue, or that was damaged on the way."""


@dataclass(frozen=True)
class Position:
    topic: str
    event_id: uuid.UUID
    aggregate_id: str
    aggregate_version: int


def position_of(event: dict[str, Any]) -> Position:
    """The position of an enveloped event, as the outbox stores it."""
    return Position(
        topic=str(event["event_type"]),
        event_id=uuid.UUID(str(event["event_id"])),
        aggregate_id=str(event["aggregate_id"]),
        aggregate_version=int(event["aggregate_version"]),
    )


def encode(position: Position) -> str:
    body = orjson.dumps(
        [
            _VERSION,
            position.topic,
            str(position.event_id),
            position.aggregate_id,
            position.aggregate_version,
        ]
    )
    return base64.urlsafe_b64encode(body).rstrip(b"=").decode()


def decode(token: str) -> Position:
    """The position a token names; ``BadPositionToken`` for anything else."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        version, topic, event_id, aggregate_id, aggregate_version = orjson.loads(raw)
        if version != _VERSION or topic not in TOPICS:
            raise ValueError(topic)
        if not isinstance(aggregate_id, str) or type(aggregate_version) is not int:
            raise ValueError(aggregate_id)
        return Position(topic, uuid.UUID(event_id), aggregate_id, aggregate_version)
    except (binascii.Error, ValueError, TypeError, AttributeError, orjson.JSONDecodeError):
        raise BadPositionToken("not a position token issued by a command response") from None


def token_of(event: dict[str, Any]) -> str:
    return encode(position_of(event))
