"""What the read routes take from a request, as ``Annotated`` aliases (one place for all).

The app keeps one of each per instance (tests run several apps in one process):
``app.state.freshness_cache`` (recent freshness lookups: services/read_api/freshness_cache.py),
``app.state.cursors`` and ``app.state.position_tokens`` (the sealing keys).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
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


@dataclass(frozen=True)
class ReadContext:
    """What every read route takes besides its parameters, solved as one dependency: each
    dependency FastAPI solves per request cost a first read about a twentieth of its CPU."""

    position: Position | None  # the write the caller's X-Position-Token names, opened
    lookups: FreshnessCache
    cursors: Cursors


# Async: it does no IO, and a sync dependency would cost a worker thread hop.
async def _read_context(
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
) -> ReadContext:
    state = request.app.state
    tokens: PositionTokens = state.position_tokens
    position = None if token is None else tokens.decode(token)
    return ReadContext(position, state.freshness_cache, state.cursors)


Context = Annotated[ReadContext, Depends(_read_context)]
