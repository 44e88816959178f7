"""The first check of every request: a valid token before the body is read, then its size.

FastAPI reads and parses a body before it runs any dependency, so authentication in a
dependency alone would let anyone make the service parse megabytes. This ASGI middleware
refuses an unauthenticated request with 401 without reading its body, and any body above
the limit with 413 (by its Content-Length, or once the bytes read pass the limit).
"""

from __future__ import annotations

import orjson
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.auth import UNAUTHORIZED, principal_from_header
from services.health import LIVE_PATHS, READY_PATH
from services.tokens import TokenVerifier

# Open to anyone: liveness, readiness, metrics and the API description.
PUBLIC_PATHS = frozenset({*LIVE_PATHS, READY_PATH, "/metrics", "/openapi.json", "/docs", "/redoc"})


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(("/metrics/", "/docs/"))


class RequestGuard:
    def __init__(self, app: ASGIApp, *, verifier: TokenVerifier, max_body_bytes: int):
        self.app = app
        self.verifier = verifier
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_public(scope["path"]):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        principal = principal_from_header(self.verifier, headers.get("authorization"))
        if principal is None:
            await _refuse(send, 401, UNAUTHORIZED, [(b"www-authenticate", b"Bearer")])
            return
        scope.setdefault("state", {})["principal"] = principal
        declared = headers.get("content-length")
        if declared is not None and not declared.isdigit():
            await _refuse(send, 400, "Content-Length must be a number of bytes")
            return
        if declared is not None and int(declared) > self.max_body_bytes:
            await _refuse(send, 413, self._too_large())
            return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_body_bytes:
                await _refuse(send, 413, self._too_large())
                return
        await self.app(scope, _replay(bytes(body), receive), send)

    def _too_large(self) -> str:
        return f"request body above {self.max_body_bytes} bytes"


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that gives the body already read once, then waits as the server's does."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


async def _refuse(
    send: Send, status: int, detail: str, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    body = orjson.dumps({"detail": detail})
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
