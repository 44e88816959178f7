"""JWT authentication shared by every HTTP service: the caller is the token's subject."""

from __future__ import annotations

import time
from typing import Annotated

import jwt
from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from config.settings import Settings

_bearer = HTTPBearer(auto_error=False)


def issue_token(settings: Settings, subject: str, *, ttl_s: int = 3600) -> str:
    """Sign an HS256 token for dev, demo and tests; in production the identity provider does."""
    if settings.jwt_algorithm != "HS256":
        raise RuntimeError("tokens can only be issued locally with HS256")
    now = int(time.time())
    return jwt.encode(
        {"sub": subject, "iat": now, "exp": now + ttl_s}, settings.jwt_key, algorithm="HS256"
    )


def verify_token(settings: Settings, token: str) -> str:
    """Return the subject of a valid token; raise ``jwt.InvalidTokenError`` otherwise."""
    claims = jwt.decode(
        token,
        settings.jwt_key,
        algorithms=[settings.jwt_algorithm],
        options={"require": ["sub", "exp"]},
    )
    subject = claims["sub"]
    if not isinstance(subject, str) or not subject:
        raise jwt.InvalidTokenError("sub must be a non-empty string")
    return subject


def current_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    settings: Settings = request.app.state.settings
    try:
        return verify_token(settings, credentials.credentials)
    except jwt.InvalidTokenError as exc:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            f"invalid token: {exc}",
            headers={"WWW-Authenticate": "Bearer"},
        ) from None


CurrentUser = Annotated[str, Depends(current_user)]


token_check = APIRouter(tags=["ops"])


@token_check.get(
    "/auth/verify",
    status_code=204,
    responses={401: {"description": "Missing, expired or badly signed bearer token"}},
)
def verify(user: CurrentUser) -> Response:
    """The gateway's ``auth_request`` target: 204 with ``X-User`` for a valid token, else 401."""
    return Response(status_code=204, headers={"X-User": user})
