"""What the read routes take from a request, checked in the order FastAPI would check it.

Each read route takes the ``Request`` alone (services/read_api/parameters.py says why) and
calls ``read_inputs`` after the caller check: the ``X-Position-Token`` header every read
accepts, then the route's own parameters. The app keeps one of each per instance (tests run
several apps in one process): ``app.state.freshness_cache`` (recent freshness lookups:
services/read_api/freshness_cache.py), ``app.state.cursors`` and
``app.state.position_tokens`` (the sealing keys).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field

from services.auth import BEARER_SECURITY
from services.position import Position, PositionTokens
from services.read_api.cursors import CURSOR_MAX_LENGTH, Cursors
from services.read_api.freshness_cache import FreshnessCache
from services.read_api.parameters import IN_HEADER, IN_PATH, Parameters

PRODUCT_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,200}$")
POSITION_TOKEN_MAX_LENGTH = 512

ProductId = Annotated[str, Field(pattern=PRODUCT_ID_PATTERN.pattern), IN_PATH]
Cursor = Annotated[
    str | None,
    Field(max_length=CURSOR_MAX_LENGTH, description="X-Next-Cursor of the last page"),
]
M = TypeVar("M", bound=BaseModel)


class PositionHeader(BaseModel):
    token: Annotated[
        str | None,
        Field(
            alias="X-Position-Token",
            max_length=POSITION_TOKEN_MAX_LENGTH,
            description="position_token of a command response: the answer says whether that"
            " write is included (X-Position-Included) and, if not, when to retry (Retry-After)",
        ),
        IN_HEADER,
    ] = None


_POSITION = Parameters(PositionHeader)


@dataclass(frozen=True)
class ReadContext:
    """What every read route takes besides its parameters."""

    position: Position | None  # the write the caller's X-Position-Token names, opened
    lookups: FreshnessCache
    cursors: Cursors


def read_openapi(parameters: Parameters[Any]) -> dict[str, Any]:
    """``openapi_extra`` of a read route: its parameters, the position header, the bearer."""
    return {
        "parameters": [*parameters.openapi_parameters, *_POSITION.openapi_parameters],
        "security": BEARER_SECURITY,
    }


def read_inputs(request: Request, parameters: Parameters[M]) -> tuple[ReadContext, M]:
    """The context and the route's parameters; 422 with every error (the header's first),
    400 for a position token this API did not seal (opened before the parameters are
    judged, as when the header was a dependency of its own)."""
    header_errors, header = _POSITION.errors_or_values(request)
    state = request.app.state
    position = None
    if header is not None and header.token is not None:
        tokens: PositionTokens = state.position_tokens
        position = tokens.decode(header.token)
    errors, values = parameters.errors_or_values(request)
    if header_errors or values is None:
        raise RequestValidationError([*header_errors, *errors])
    return ReadContext(position, state.freshness_cache, state.cursors), values
