"""Opaque keyset cursors: the sort key of the last row served, bound to the filters it was for.

A cursor seals (services/sealed.py) compact JSON ``[version, filters digest, key...]`` with
the read-token key: only this API makes cursors, so a forged or damaged one is refused (400)
before anything reaches the database. Binding it to a digest of the filters means a cursor
reused with other filters is refused too, instead of silently paging through another list.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import orjson

from services.errors import DomainError
from services.sealed import Seal

CURSOR_MAX_LENGTH = 512
_VERSION = 1
NOT_ISSUED = "cursor is not one this API issued (damaged, forged or expired): start again"


class BadCursor(DomainError):
    """A cursor this API did not issue, was damaged, or was made for other filters."""


def filters_digest(**filters: object) -> str:
    canonical = orjson.dumps(
        {name: None if v is None else str(v) for name, v in sorted(filters.items())}
    )
    return hashlib.sha256(canonical).hexdigest()[:16]


class Cursors:
    """Makes and reads this API's cursors with the read-token key."""

    def __init__(self, secret: bytes):
        self._seal = Seal(secret, "cqrsw keyset cursor")

    def encode(self, digest: str, key: Sequence[Any]) -> str:
        return self._seal.seal(orjson.dumps([_VERSION, digest, *key]))

    def decode(self, cursor: str, digest: str, arity: int) -> list[Any]:
        """The key a cursor carries, checked to be sealed here, for ``digest``, ``arity`` long."""
        payload = self._seal.open(cursor)
        if payload is None:
            raise BadCursor(NOT_ISSUED)
        try:
            values = orjson.loads(payload)
        except orjson.JSONDecodeError:
            raise BadCursor(NOT_ISSUED) from None
        if not isinstance(values, list) or not values or values[0] != _VERSION:
            raise BadCursor("cursor of an unsupported version: start again without it")
        if len(values) != arity + 2:
            raise BadCursor(NOT_ISSUED)
        if values[1] != digest:
            raise BadCursor("cursor was issued for other filters: start again without it")
        return values[2:]
