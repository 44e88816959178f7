"""Serve a kept answer when the view it was read from has not been published since.

A plain ASGI middleware inside the request guard (the caller is authenticated, and 401s
are never kept) and inside telemetry (a kept answer still gets its request id, span and
counters). It keeps complete 200 answers of GET routes that say which view they read
(``X-View``, ``X-View-Published-At``: services/read_api/consistency.py), keyed by path,
query string and caller. A request with ``X-Position-Token`` always reads: its answer
depends on the write it names and on the latest watermark. Whether a view is still at the
publication an answer was made at is known from the freshness lookups the publication
listener vouches for: a kept answer may be behind a new publication by the time its
announcement takes, at most services/read_api/freshness_cache.py's ``KEPT_ANSWERS_BOUND_S``,
never older than its headers.
"""

from __future__ import annotations

from datetime import datetime

from prometheus_client import Counter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.read_api.answer_cache import Answer, AnswerCache
from services.read_api.freshness_cache import FreshnessCache
from services.tokens import Principal

READ_ANSWERS = Counter(
    "cqrsw_read_answers_total",
    "Read API answers: kept (served from the answer cache), read (computed), or always read"
    " (a position token, or not a cacheable request)",
    ["outcome"],
)
_KEPT, _READ, _BYPASSED = (READ_ANSWERS.labels(o) for o in ("kept", "read", "always-read"))
_POSITION_TOKEN = b"x-position-token"
_VIEW = b"x-view"
_PUBLISHED_AT = b"x-view-published-at"


class KeptAnswers:
    def __init__(self, app: ASGIApp, *, answers: AnswerCache, freshness: FreshnessCache):
        self.app = app
        self.answers = answers
        self.freshness = freshness

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        principal = scope.get("state", {}).get("principal")
        if (
            scope["type"] != "http"
            or scope["method"] != "GET"
            or not self.answers.enabled
            or not isinstance(principal, Principal)
            or any(name == _POSITION_TOKEN for name, _ in scope["headers"])
        ):
            _BYPASSED.inc()
            await self.app(scope, receive, send)
            return
        key = (scope["path"], scope["query_string"], principal.subject, principal.roles)
        kept = self.answers.get(key, self.freshness.publications())
        if kept is not None:
            _KEPT.inc()
            await send({"type": "http.response.start", "status": 200, "headers": kept.headers})
            await send({"type": "http.response.body", "body": kept.body})
            return
        _READ.inc()
        await self.app(scope, receive, _keeping(send, self.answers, key))


def _keeping(send: Send, answers: AnswerCache, key: tuple[object, ...]) -> Send:
    """A send that passes everything on and keeps a complete 200 answer naming its view."""
    headers: tuple[tuple[bytes, bytes], ...] | None = None  # of a 200 answer only
    body = bytearray()

    async def keep(message: Message) -> None:
        nonlocal headers
        # Copied before sending: the layers outside add to the message (the request id).
        if message["type"] == "http.response.start" and message["status"] == 200:
            headers = tuple((bytes(k), bytes(v)) for k, v in message.get("headers", ()))
        elif message["type"] == "http.response.body" and headers is not None:
            body.extend(message.get("body", b""))
            if not message.get("more_body", False):
                answer = _answer(headers, bytes(body))
                if answer is not None:
                    answers.put(key, answer)
        await send(message)

    return keep


def _answer(headers: tuple[tuple[bytes, bytes], ...], body: bytes) -> Answer | None:
    found = dict(headers)
    view, published = found.get(_VIEW), found.get(_PUBLISHED_AT)
    if view is None or published is None:
        return None  # not an answer read from one published view: never kept
    try:
        publication = datetime.fromisoformat(published.decode())
    except ValueError:
        return None
    return Answer(view.decode(), publication, headers, body)
