"""The event keys as files: a producer's private key, the ingest's trusted set (IO only).

In dev, unset key settings mean the local keys in ``<secrets dir>/event-keys``: one private
key per producer and the trusted set of their public keys, generated the first time (files
0600 in a 0700 folder, as the local passwords). In prod an unset key refuses to start.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from config.settings import ConfigurationError, Settings
from contracts.catalog import PRODUCERS
from contracts.signatures import (
    EventSigner,
    TrustedKey,
    TrustedKeys,
    public_jwk,
    trusted_from_jwks,
)

TRUSTED_FILE = "trusted.jwks.json"


def local_keys_dir(settings: Settings) -> Path:
    return settings.secrets_dir / "event-keys"


def _write_new(path: Path, data: bytes) -> bool:
    """Write ``data`` to a new file (mode 0600); False if it exists (the first writer wins).

    Written aside, then linked into place: a reader never sees half a key.
    """
    aside = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        os.link(aside, path)
    except FileExistsError:
        return False
    finally:
        aside.unlink()
    return True


def private_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())


def jwks_bytes(keys: list[TrustedKey]) -> bytes:
    return orjson.dumps({"keys": [public_jwk(k) for k in keys]}, option=orjson.OPT_INDENT_2)


def ensure_local_keys(folder: Path) -> None:
    """One private key per producer and their trusted set in ``folder``, made if missing."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    for producer in PRODUCERS:
        _write_new(folder / f"{producer}.pem", private_pem(Ed25519PrivateKey.generate()))
    signers = [load_signer(folder / f"{p}.pem", p) for p in PRODUCERS]
    trusted = [TrustedKey(s.producer, s.key.public_key()) for s in signers]
    _write_new(folder / TRUSTED_FILE, jwks_bytes(trusted))


def load_signer(path: Path, producer: str) -> EventSigner:
    """``producer``'s signer from its PEM private key file; ConfigurationError if unusable."""
    try:
        key = load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigurationError(f"event signing key {path}: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigurationError(f"event signing key {path}: not an Ed25519 private key")
    return EventSigner(producer, key)


def load_trusted(path: Path) -> TrustedKeys:
    """The trusted keys in a JWK set file; ConfigurationError if unusable."""
    try:
        return trusted_from_jwks(orjson.loads(path.read_bytes()))
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"trusted event keys {path}: {exc}") from None


def signer_for(settings: Settings, producer: str) -> EventSigner:
    """The key this write service signs with: its setting, or in dev the local one."""
    if settings.event_signing_key_file is not None:
        return load_signer(settings.event_signing_key_file, producer)
    if settings.env != "dev":
        raise ConfigurationError(
            f"CQRSW_EVENT_SIGNING_KEY_FILE is required for the {producer} service when"
            " CQRSW_ENV=prod (its events must be signed)"
        )
    folder = local_keys_dir(settings)
    ensure_local_keys(folder)
    return load_signer(folder / f"{producer}.pem", producer)


def trusted_keys(settings: Settings) -> TrustedKeys:
    """The keys the ingest accepts: its setting, or in dev the local trusted set."""
    if settings.event_trusted_keys_file is not None:
        return load_trusted(settings.event_trusted_keys_file)
    if settings.env != "dev":
        raise ConfigurationError(
            "CQRSW_EVENT_TRUSTED_KEYS_FILE is required for the ingest when CQRSW_ENV=prod"
            " (it accepts only signed events)"
        )
    folder = local_keys_dir(settings)
    ensure_local_keys(folder)
    return load_trusted(folder / TRUSTED_FILE)


def new_key_file(path: Path, producer: str) -> TrustedKey:
    """A new private key for ``producer`` at ``path`` (0600, never overwritten); its public key."""
    if producer not in PRODUCERS:
        raise ConfigurationError(f"unknown producer {producer!r}: one of {', '.join(PRODUCERS)}")
    key = Ed25519PrivateKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    if not _write_new(path, private_pem(key)):
        raise ConfigurationError(f"{path} exists: a key file is never overwritten")
    return TrustedKey(producer, key.public_key())


def dev_signers(settings: Settings) -> dict[str, EventSigner]:
    """Every producer's local key: what tools standing in for the services sign with (dev)."""
    folder = local_keys_dir(settings)
    ensure_local_keys(folder)
    return {p: load_signer(folder / f"{p}.pem", p) for p in PRODUCERS}
