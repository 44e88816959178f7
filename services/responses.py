"""The error responses every route documents in its OpenAPI, and their one body shape."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict


class FieldProblem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class Problem(BaseModel):
    """Every error body: ``detail`` says what is wrong; domain errors add their facts."""

    model_config = ConfigDict(extra="allow")
    detail: str | list[FieldProblem]


_DESCRIPTIONS = {
    400: "The request body could not be read",
    401: "Missing, invalid or expired bearer token",
    403: "The token's roles do not allow this",
    404: "Not found",
    409: "Conflicts with the current state",
    413: "Request body too large",
    422: "The request does not match this schema, or an Idempotency-Key was reused",
    503: "Not possible now; retry later",
}

AUTHENTICATED = (401,)
WITH_BODY = (400, 401, 413, 422)


def documented(*codes: int, **descriptions: str) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: each code with the Problem body; ``s409="..."`` to describe."""
    return {
        code: {"model": Problem, "description": descriptions.get(f"s{code}", _DESCRIPTIONS[code])}
        for code in sorted(set(codes))
    }


def _printable(text: str) -> str:
    """Text a JSON response can encode: lone surrogates from the input become U+FFFD."""
    return text.encode("utf-8", "replace").decode("utf-8")


async def validation_problem(_: Request, exc: Exception) -> JSONResponse:
    """422 that says where and why, never echoing the input (it may not even be encodable)."""
    assert isinstance(exc, RequestValidationError)
    problems = [
        {
            "loc": [p if isinstance(p, int) else _printable(str(p)) for p in error["loc"]],
            "msg": _printable(str(error["msg"])),
            "type": str(error["type"]),
        }
        for error in exc.errors()
    ]
    return JSONResponse({"detail": problems}, status_code=422)
