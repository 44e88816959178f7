"""Position tokens: where a command's event will be in the log, as an opaque, sealed string.

A command response carries one; a read that passes it back learns whether the view it is
served already includes that event. The token names the event (topic and event id), which
is all the warehouse needs to find its raw row, and where it goes in the log (aggregate id,
the partition key, and aggregate version). The service layer records that position as
compact JSON (kept with the idempotent response); the HTTP edge seals it with the read-token
key (services/sealed.py), so the read API looks up only positions a write service issued.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any

import orjson
from pydantic import Field

from contracts.catalog import TOPICS
from services.errors import DomainError
from services.sealed import Seal

_VERSION = 1
POSITION = "position"  # the key of a handler's answer that holds its payload
TOKEN = "position_token"  # the key of the HTTP answer that holds the sealed token

PositionToken = Annotated[
    str,
    Field(
        description="Opaque position of this command's event in the log. Send it to the read"
        " API as X-Position-Token to learn whether what it serves includes this write."
    ),
]


class BadPositionToken(DomainError):
    """A position token that no write service issued, or that was damaged on the way."""


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


def payload_of(event: dict[str, Any]) -> str:
    """The position of an enveloped event as the text a token seals."""
    where = position_of(event)
    return orjson.dumps(
        [_VERSION, where.topic, str(where.event_id), where.aggregate_id, where.aggregate_version]
    ).decode()


def _parse(payload: bytes) -> Position:
    version, topic, event_id, aggregate_id, aggregate_version = orjson.loads(payload)
    if version != _VERSION:
        raise BadPositionToken("position token of an unsupported version: write again")
    if topic not in TOPICS:
        raise ValueError(topic)
    if not isinstance(aggregate_id, str) or type(aggregate_version) is not int:
        raise ValueError(aggregate_id)
    return Position(topic, uuid.UUID(event_id), aggregate_id, aggregate_version)


class PositionTokens:
    """Seals positions into tokens and opens them again, with the read-token key."""

    def __init__(self, secret: bytes):
        self._seal = Seal(secret, "cqrsw position token")

    def token(self, payload: str) -> str:
        return self._seal.seal(payload.encode())

    def answer(self, out: dict[str, Any]) -> dict[str, Any]:
        """A handler's answer as sent: its position replaced by the sealed token."""
        if POSITION not in out:
            return out
        sent = {k: v for k, v in out.items() if k != POSITION}
        sent[TOKEN] = self.token(str(out[POSITION]))
        return sent

    def decode(self, token: str) -> Position:
        """The position a token names; ``BadPositionToken`` for anything else."""
        payload = self._seal.open(token)
        if payload is None:
            raise BadPositionToken(
                "not a position token issued by a command response (damaged, forged or"
                " signed with a retired key)"
            )
        try:
            return _parse(payload)
        except (ValueError, TypeError, AttributeError, orjson.JSONDecodeError):
            raise BadPositionToken("not a position token issued by a command response") from None
