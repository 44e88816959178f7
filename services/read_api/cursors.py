"""Opaque keyset cursors: the sort key of the last row served, bound to the filters it was for.

A cursor is base64url of compact JSON ``[filters digest, key...]``. Binding it to a digest of
the filters means a cursor reused with other filters is refused (400) instead of silently
paging through a different list.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence
from typing import Any

import orjson

from services.errors import DomainError

CURSOR_MAX_LENGTH = 512


class BadCursor(DomainError):
    """A cursor this API did not issue, was damaged, or was made for other filters."""


def filters_digest(**filters: object) -> str:
    canonical = orjson.dumps(
        {name: None if v is None else str(v) for name, v in sorted(filters.items())}
    )
    return hashlib.sha256(canonical).hexdigest()[:16]


def encode(digest: str, key: Sequence[Any]) -> str:
    body = orjson.dumps([digest, *key])
    return base64.urlsafe_b64encode(body).rstrip(b"=").decode()


def decode(cursor: str, digest: str, arity: int) -> list[Any]:
    """The key a cursor carries, checked to be for ``digest`` and ``arity`` values long."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = orjson.loads(raw)
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        raise BadCursor("cursor is not one this API issued") from None
    if not isinstance(values, list) or len(values) != arity + 1:
        raise BadCursor("cursor is not one this API issued")
    if values[0] != digest:
        raise BadCursor("cursor was issued for other filters: start again without it")
    return values[1:]
