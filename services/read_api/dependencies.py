"""What the read routes take from a request, as ``Annotated`` aliases (one place for all).

The app keeps one of each per instance (tests run several apps in one process):
``app.state.freshness_cache`` (recent freshness lookups: services/read_api/freshness_cache.py),
``app.state.cursors`` and ``app.state.position_tokens`` (the sealing keys).
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Depends, Header, Path, Query, Request

from services.position import Position, PositionTokens
from services.read_api.cursors import CURSOR_MAX_LENGTH, Cursors
from services.read_api.freshness_cache import FreshnessCache

PRODUCT_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,200}$")
POSITION_TOKEN_MAX_LENGTH = 512

ProductId = Annotated[str, Path(pattern=PRODUCT_ID_PATTERN.pattern)]
Cursor = Annotated[
    str | None,
    Query(max_length=CURSOR_MAX_LENGTH, description="X-Next-Cursor of the last page"),
]


# Each dependency is async: none does IO, and a sync one would cost a worker thread hop.
async def _freshness_cache(request: Request) -> FreshnessCache:
    found: FreshnessCache = request.app.state.freshness_cache
    return found


async def _cursors(request: Request) -> Cursors:
    found: Cursors = request.app.state.cursors
    return found


async def _written_position(
    request: Request,
    token: Annotated[
        str | None,
        Header(
            alias="X-Position-Token",
            max_length=POSITION_TOKEN_MAX_LENGTH,
            description="position_token of a command response: the answer says whether that"
            " write is included (X-Position-Included) and, if not, when to retry (Retry-After)",
        ),
    ] = None,
) -> Position | None:
    if token is None:
        return None
    tokens: PositionTokens = request.app.state.position_tokens
    return tokens.decode(token)


FreshnessLookups = Annotated[FreshnessCache, Depends(_freshness_cache)]
CursorSeal = Annotated[Cursors, Depends(_cursors)]
# The write a caller's X-Position-Token names (opened and checked), or None without one.
WrittenPosition = Annotated[Position | None, Depends(_written_position)]
