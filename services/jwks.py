"""Public keys that verify tokens, by ``kid``, from a JWKS file or the identity provider's URL.

Both are read again when their keys are older than ``CQRSW_JWT_JWKS_REFRESH_S``, and at once
(at most every ``UNKNOWN_KID_COOLDOWN_S``) when a token names a ``kid`` they do not hold: a
rotated key is picked up without a restart. A key is used only for the configured algorithm,
so an HMAC or EC key in the set never checks an RS256 token. Every refusal is a
``jwt.PyJWTError`` (a 401), never another exception.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Final, Protocol

import jwt

from config.settings import ConfigurationError, Settings

log = logging.getLogger(__name__)

JWKS_TIMEOUT_S: Final = 5
UNKNOWN_KID_COOLDOWN_S: Final = 5.0


class KeySource(Protocol):
    def key_for(self, kid: str) -> jwt.PyJWK: ...


class JwksFile:
    """A JWKS file (a mounted Secret or ConfigMap), read again when it may have changed."""

    def __init__(self, path: Path, refresh_s: float):
        self.path, self.refresh_s = path, refresh_s
        self._lock = threading.Lock()
        try:
            self._keys = self._read()
        except (OSError, ValueError, jwt.PyJWTError) as exc:
            raise ConfigurationError(
                "configuration error: CQRSW_JWT_JWKS_FILE: not a readable JWKS file with a"
                f" usable key ({type(exc).__name__})"
            ) from None
        self._read_at = time.monotonic()

    def _read(self) -> dict[str, jwt.PyJWK]:
        keys = jwt.PyJWKSet.from_json(self.path.read_text()).keys
        return {key.key_id: key for key in keys if key.key_id}

    def _reload(self) -> None:
        self._read_at = time.monotonic()
        try:
            self._keys = self._read()
        except (OSError, ValueError, jwt.PyJWTError) as exc:  # keep the keys we had
            log.warning("the JWKS file could not be read again, keeping its last keys: %s", exc)

    def key_for(self, kid: str) -> jwt.PyJWK:
        with self._lock:
            age = time.monotonic() - self._read_at
            if age >= self.refresh_s or (kid not in self._keys and age >= UNKNOWN_KID_COOLDOWN_S):
                self._reload()
            key = self._keys.get(kid)
        if key is None:
            raise jwt.InvalidKeyError("no key in the JWKS file has this token's kid")
        return key


class JwksUrl:
    """The identity provider's JWKS endpoint (https), through PyJWT's own client."""

    def __init__(self, url: str, refresh_s: float):
        self._client = jwt.PyJWKClient(url, lifespan=refresh_s, timeout=JWKS_TIMEOUT_S)
        try:
            self._client.get_jwk_set()
        except jwt.PyJWKClientConnectionError as exc:  # the provider may start after us
            log.warning("the JWKS cannot be read yet; tokens are refused until it can: %s", exc)
        except (ValueError, jwt.PyJWTError) as exc:
            raise ConfigurationError(
                "configuration error: CQRSW_JWT_JWKS_URL: not a JWKS with a usable key"
                f" ({type(exc).__name__})"
            ) from None

    def key_for(self, kid: str) -> jwt.PyJWK:
        return self._client.get_signing_key(kid)


def key_source(settings: Settings) -> KeySource | None:
    """Where the keys come from: a JWKS file, a JWKS URL, or None (one PEM key, or HS256)."""
    if settings.jwt_jwks_file is not None:
        return JwksFile(settings.jwt_jwks_file, settings.jwt_jwks_refresh_s)
    if settings.jwt_jwks_url is not None:
        return JwksUrl(settings.jwt_jwks_url, settings.jwt_jwks_refresh_s)
    return None


def signing_key(source: KeySource, token: str, algorithm: str) -> jwt.PyJWK:
    """The key of the token's ``kid``, if it is a key for ``algorithm``."""
    kid = jwt.get_unverified_header(token).get("kid")
    if not isinstance(kid, str) or not kid:
        raise jwt.InvalidTokenError("the token names no kid")
    key = source.key_for(kid)
    if key.algorithm_name != algorithm:
        raise jwt.InvalidKeyError(
            f"the key of this kid is for {key.algorithm_name}, not {algorithm}"
        )
    return key
