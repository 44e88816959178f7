"""Signed events for tests: a throwaway key per producer (unit tests) or the stack's own keys."""

from __future__ import annotations

from functools import cache
from typing import Any

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from config.settings import Settings
from contracts.catalog import PRODUCER_OF, PRODUCERS
from contracts.key_files import dev_signers
from contracts.signatures import EventSigner, TrustedKey, TrustedKeys


@cache
def unit_signers() -> dict[str, EventSigner]:
    """One key per producer, made once per test process."""
    return {p: EventSigner(p, Ed25519PrivateKey.generate()) for p in PRODUCERS}


@cache
def unit_trust() -> TrustedKeys:
    """What an ingest trusting exactly ``unit_signers()`` accepts."""
    return TrustedKeys(TrustedKey(s.producer, s.key.public_key()) for s in unit_signers().values())


def signed(event: dict[str, Any]) -> dict[str, Any]:
    """``event`` signed by the test key of the producer that owns its type (else orders'),
    as a relay signs a batch of one."""
    producer = PRODUCER_OF.get(event["event_type"], "orders")
    return unit_signers()[producer].sign_batch([event])[0]


def stack_signed(settings: Settings, event: dict[str, Any]) -> dict[str, Any]:
    """``event`` signed with the stack's local key of its producer, as its relay would
    sign a batch of one."""
    return dev_signers(settings)[PRODUCER_OF[event["event_type"]]].sign_batch([event])[0]


def stack_bytes(settings: Settings, event: dict[str, Any]) -> bytes:
    """The message value a write service of this stack would publish for ``event``."""
    return orjson.dumps(stack_signed(settings, event))
