"""Where the keys of signed events are (docs/adr/signed-events.md); ``Settings`` extends it."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings


class EventKeySettings(BaseSettings):
    """A write service's private key and the ingest's trusted public keys, as files.

    Unset in dev: ``stack up`` generates one key per producer and the trusted set in the
    secrets dir. Unset in prod: the component that needs them refuses to start.
    """

    event_signing_key_file: Path | None = Field(
        default=None,
        description="PEM (PKCS #8) Ed25519 private key this write service signs its events"
        " with; only that service's container holds it.",
    )
    event_trusted_keys_file: Path | None = Field(
        default=None,
        description="JWK set (RFC 8037 OKP Ed25519 keys, each with its `producer`) of the"
        " public keys the ingest accepts; two per producer while a key is rotated.",
    )
