"""Sealed tokens: a payload with its HMAC-SHA256, so only holders of the key can make one.

Position tokens (services/position.py) and keyset cursors (services/read_api/cursors.py)
travel through clients and come back; each is ``base64url(payload).base64url(tag)``. The tag
is checked (in constant time) before the payload is even parsed, so nothing a client made up
reaches a query. Each kind of token has a key of its own, derived from the one configured
secret and the kind's name: a cursor cannot pass for a position token or the reverse.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

TAG_BYTES = 32  # the whole SHA-256


class Seal:
    """Seals and opens the tokens of one ``purpose`` with a key derived from ``secret``."""

    def __init__(self, secret: bytes, purpose: str):
        self._key = hmac.new(secret, purpose.encode(), hashlib.sha256).digest()

    def seal(self, payload: bytes) -> str:
        tag = hmac.new(self._key, payload, hashlib.sha256).digest()
        return f"{_b64(payload)}.{_b64(tag)}"

    def open(self, token: str) -> bytes | None:
        """The payload if ``token`` was sealed with this key; None if forged or damaged."""
        body, dot, tag_text = token.partition(".")
        if not dot or not body.isascii() or not tag_text.isascii():
            return None
        try:
            payload, tag = _unb64(body), _unb64(tag_text)
        except (binascii.Error, ValueError):
            return None
        if _b64(payload) != body or _b64(tag) != tag_text:
            return None  # another spelling of the same bytes: not as sealed, so damaged
        expected = hmac.new(self._key, payload, hashlib.sha256).digest()
        return payload if hmac.compare_digest(tag, expected) else None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    if not text or "=" in text:
        raise ValueError(text)
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
