"""Signed envelopes: each producer signs its events with its own Ed25519 key (pure: no IO).

The signature travels in the envelope (``signature``: key id and value) and covers the
canonical bytes of the rest of it, so it survives the outbox's jsonb and any broker
(docs/adr/signed-events.md). The ingest trusts an event only if a key of the producer that
owns its event type signed exactly that envelope.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from contracts.catalog import PRODUCER_OF

SIGNATURE = "signature"  # the envelope's field
# Signed bytes start with this, so a signature over an event means nothing anywhere else.
DOMAIN = b"cqrsw-event-v1\n"


def canonical_bytes(event: Mapping[str, Any]) -> bytes:
    """What is signed: the envelope without its signature, keys sorted, compact UTF-8 JSON."""
    unsigned = {k: v for k, v in event.items() if k != SIGNATURE}
    return DOMAIN + orjson.dumps(unsigned, option=orjson.OPT_SORT_KEYS)


def raw_public_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(key: Ed25519PublicKey) -> str:
    """A key's id: the first 16 hex digits of the SHA-256 of its raw public bytes."""
    return hashlib.sha256(raw_public_bytes(key)).hexdigest()[:16]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class EventSigner:
    """One producer's private key; signs the envelopes that producer makes."""

    producer: str
    key: Ed25519PrivateKey

    @property
    def key_id(self) -> str:
        return key_id(self.key.public_key())

    def sign(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """``event`` with its signature (any signature it had is replaced)."""
        value = self.key.sign(canonical_bytes(event))
        return {**event, SIGNATURE: {"key_id": self.key_id, "value": _b64(value)}}


@dataclass(frozen=True)
class TrustedKey:
    """A public key the ingest trusts, and the producer whose events it may sign."""

    producer: str
    key: Ed25519PublicKey

    @property
    def key_id(self) -> str:
        return key_id(self.key)


class TrustedKeys:
    """The ingest's trusted set: key id -> producer and public key; several per producer.

    Signatures are verified with PyNaCl (libsodium), each key loaded once here: on the
    ingest's hot path it takes about half the time of ``cryptography``'s OpenSSL call for
    the same check (``bench/ingest_throughput.py`` prints both). Keys are still made, stored
    and signed with ``cryptography``; Ed25519 signatures are the same either way (RFC 8032).
    """

    def __init__(self, keys: Iterable[TrustedKey]):
        self.by_id: dict[str, TrustedKey] = {}
        self.verifiers: dict[str, VerifyKey] = {}
        for trusted in keys:
            if trusted.producer not in PRODUCER_OF.values():
                raise ValueError(f"key {trusted.key_id}: unknown producer {trusted.producer!r}")
            if trusted.key_id in self.by_id:
                raise ValueError(f"key {trusted.key_id} is listed twice")
            self.by_id[trusted.key_id] = trusted
            self.verifiers[trusted.key_id] = VerifyKey(raw_public_bytes(trusted.key))

    def refusal(self, event: Mapping[str, Any]) -> str | None:
        """Why ``event`` (contract-valid) is not trusted, or None if its producer signed it."""
        event_type = event["event_type"]
        owner = PRODUCER_OF[event_type]
        if event["producer"] != owner:
            return (
                f"wrong producer: {event_type} is produced by {owner}, the envelope names"
                f" {event['producer']!r}"
            )
        signature = event.get(SIGNATURE)
        if signature is None:
            return "unsigned: the envelope carries no signature"
        kid = signature["key_id"]
        trusted = self.by_id.get(kid)
        if trusted is None:
            return f"unknown signing key {kid!r}: not among the trusted keys"
        if trusted.producer != owner:
            return (
                f"wrong producer: signed with key {kid} of {trusted.producer}, but {event_type}"
                f" is produced by {owner}"
            )
        try:
            self.verifiers[kid].verify(canonical_bytes(event), _unb64(signature["value"]))
        except (BadSignatureError, ValueError):  # nacl's ValueError is a ValueError
            return f"bad signature: the envelope does not verify with key {kid} of {owner}"
        return None


def public_jwk(trusted: TrustedKey) -> dict[str, str]:
    """A trusted key as a JWK (RFC 8037, OKP Ed25519) with the producer it speaks for."""
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "use": "sig",
        "kid": trusted.key_id,
        "x": _b64(raw_public_bytes(trusted.key)),
        "producer": trusted.producer,
    }


def trusted_from_jwk(jwk: Any) -> TrustedKey:
    """A trusted key from its JWK; ValueError saying what is wrong with it."""
    if not isinstance(jwk, dict):
        raise ValueError("a key must be a JSON object")
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise ValueError(f"key {jwk.get('kid')!r}: only OKP Ed25519 keys are accepted")
    producer, x, kid = jwk.get("producer"), jwk.get("x"), jwk.get("kid")
    if not isinstance(producer, str) or not isinstance(x, str) or not isinstance(kid, str):
        raise ValueError(f"key {kid!r}: needs string members kid, x and producer")
    try:
        public = Ed25519PublicKey.from_public_bytes(_unb64(x))
    except ValueError as exc:
        raise ValueError(f"key {kid!r}: x is not an Ed25519 public key ({exc})") from None
    trusted = TrustedKey(producer, public)
    if trusted.key_id != kid:
        raise ValueError(f"key {kid!r}: kid does not match its key (expected {trusted.key_id})")
    return trusted


def trusted_from_jwks(document: Any) -> TrustedKeys:
    """The trusted set from a JWK set (``{"keys": [...]}``); ValueError if malformed."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError('a trusted key set is a JSON object {"keys": [...]}')
    return TrustedKeys(trusted_from_jwk(k) for k in document["keys"])
