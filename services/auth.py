"""Who may call: the caller from the bearer token, and role checks as route dependencies.

Clients get one generic 401 message; why a token was refused goes to the log only.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

import jwt
from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.tokens import (
    ANALYST,
    BILLING,
    CUSTOMER,
    STOCK,
    SUPPORT,
    Principal,
    TokenVerifier,
)

log = logging.getLogger(__name__)

UNAUTHORIZED = "missing, invalid or expired bearer token"
_bearer = HTTPBearer(auto_error=False)


def principal_from_header(verifier: TokenVerifier, authorization: str | None) -> Principal | None:
    """The caller named by an ``Authorization: Bearer`` header, or None if it proves nothing."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    try:
        return verifier.verify(token.strip())
    except jwt.PyJWTError as exc:
        log.info("bearer token refused: %s", exc)
        return None


def unauthorized() -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"}
    )


# The dependencies below are async: they do no IO, and a sync one would cost every request a
# hop to a worker thread and back (measured with bench/read_latency.py).
Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]  # for OpenAPI


def caller(request: Request, *roles: str) -> Principal:
    """The caller (else 401), holding one of ``roles`` if any are given (else 403); the
    request guard has usually checked the token already. Routes that parse their own
    inputs call it first, as FastAPI would solve ``Caller`` or ``requires`` first."""
    principal = getattr(request.state, "principal", None)
    if not isinstance(principal, Principal):
        verifier: TokenVerifier = request.app.state.token_verifier
        principal = principal_from_header(verifier, request.headers.get("authorization"))
    if principal is None:
        raise unauthorized()
    if roles and not principal.has_any(*roles):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, f"this needs one of the roles: {', '.join(roles)}"
        )
    return principal


async def current_principal(request: Request, _: Bearer) -> Principal:
    return caller(request)


Caller = Annotated[Principal, Depends(current_principal)]


def requires(*roles: str) -> Any:
    """A dependency that lets through only callers holding one of ``roles`` (else 403).
    It finds the caller itself rather than through ``Caller``: each level of dependencies
    FastAPI solves per request is CPU a read pays."""

    async def check(request: Request, _: Bearer) -> Principal:
        return caller(request, *roles)

    return Depends(check)


Customer = Annotated[Principal, requires(CUSTOMER)]
Billing = Annotated[Principal, requires(BILLING)]
StockKeeper = Annotated[Principal, requires(STOCK)]
# Who may ask for the orders of a user: the user (customer) or anyone's (analyst, support).
ORDERS_READERS = (CUSTOMER, ANALYST, SUPPORT)
OrdersReader = Annotated[Principal, requires(*ORDERS_READERS)]
READ_ANY_USER = (ANALYST, SUPPORT)
# How OpenAPI names the bearer scheme, for routes that check the caller themselves.
BEARER_SECURITY: list[dict[str, list[str]]] = [{_bearer.scheme_name: []}]

token_check = APIRouter(tags=["ops"])


@token_check.get(
    "/auth/verify",
    status_code=204,
    responses={401: {"description": "Missing, expired or badly signed bearer token"}},
)
def verify(caller: Caller) -> Response:
    """The gateway's ``auth_request`` target: 204 with ``X-User`` for a valid token, else 401."""
    return Response(status_code=204, headers={"X-User": caller.subject})


__all__ = [
    "ANALYST",
    "BEARER_SECURITY",
    "BILLING",
    "CUSTOMER",
    "ORDERS_READERS",
    "READ_ANY_USER",
    "STOCK",
    "SUPPORT",
    "Billing",
    "Caller",
    "Customer",
    "OrdersReader",
    "Principal",
    "StockKeeper",
    "caller",
    "current_principal",
    "principal_from_header",
    "requires",
    "token_check",
]
