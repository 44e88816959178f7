"""Proof that orders belong to a user: made by the orders service, checked by the invoices one.

The invoices service never learns who owns an order. The orders service, which does, tags
each order of its BFF read with HMAC(key, user id, order id). The BFF asks the invoices
service for a chunk of orders with the XOR of their tags, an aggregate MAC (Katz and
Lindell, "Aggregate Message Authentication Codes", CT-RSA 2008: forging one is as hard as
forging a tag); the invoices service recomputes it from the caller's subject and the order
ids asked. Only the write services hold the key, so a customer cannot prove another user's
orders. The key is derived from the read-token key, for this purpose alone.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Iterable
from uuid import UUID

TAG_BYTES = 32
PROOF_CHARS = 43  # 32 bytes, base64url without padding


def aggregate(tags: Iterable[bytes]) -> bytes:
    """The XOR of ``tags`` (each distinct order once): one proof for them all."""
    total = bytearray(TAG_BYTES)
    for tag in tags:
        for i, byte in enumerate(tag):
            total[i] ^= byte
    return bytes(total)


def encode(tag: bytes) -> str:
    return base64.urlsafe_b64encode(tag).rstrip(b"=").decode()


def decode(text: str) -> bytes | None:
    """The tag or proof ``text`` spells, or None if it is not one."""
    if len(text) != PROOF_CHARS or not text.isascii():
        return None
    try:
        tag = base64.urlsafe_b64decode(text + "=")
    except (binascii.Error, ValueError):
        return None
    return tag if encode(tag) == text else None


class OrderOwners:
    """Tags orders with their owner and checks a proof against a caller and order ids."""

    def __init__(self, secret: bytes):
        self._key = hmac.new(secret, b"cqrsw order owner", hashlib.sha256).digest()

    def tag(self, user_id: str, order_id: UUID) -> bytes:
        # The user id is text of any length: its length first, so no two pairs share bytes.
        user = user_id.encode()
        message = len(user).to_bytes(4, "big") + user + order_id.bytes
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def proves(self, proof: str, user_id: str, order_ids: Iterable[UUID]) -> bool:
        """Whether ``proof`` shows every one of ``order_ids`` belongs to ``user_id``."""
        given = decode(proof)
        if given is None:
            return False
        expected = aggregate(self.tag(user_id, order_id) for order_id in set(order_ids))
        return hmac.compare_digest(given, expected)
