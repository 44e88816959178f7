"""JWTs: who the caller is and which roles they hold, checked with PyJWT; no HTTP here."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import jwt

from config.settings import ConfigurationError, Settings
from services.fields import SUBJECT_MAX_LENGTH, is_storable_text
from services.jwks import KeySource, key_source, signing_key

CUSTOMER: Final = "customer"
BILLING: Final = "billing"
STOCK: Final = "stock"
ANALYST: Final = "analyst"
SUPPORT: Final = "support"
ROLES: Final = (CUSTOMER, BILLING, STOCK, ANALYST, SUPPORT)
VERIFIED_TOKENS_KEPT: Final = 100_000


@dataclass(frozen=True)
class Principal:
    """The caller: the token's subject and the roles it grants (unknown roles are dropped)."""

    subject: str
    roles: frozenset[str]

    def has_any(self, *roles: str) -> bool:
        return not self.roles.isdisjoint(roles)


class TokenVerifier:
    """Checks tokens against one configuration; built once per app, used per request."""

    def __init__(self, settings: Settings):
        self._settings = settings
        self._verified: dict[str, tuple[Principal, float]] = {}  # token: (caller, valid until)
        self._algorithm = settings.jwt_algorithm
        self._key: Any = None
        self._jwks: KeySource | None = None
        if settings.jwt_algorithm == "HS256":
            self._key = settings.jwt_hs256_secret
        else:
            self._jwks = key_source(settings)
            if self._jwks is None:
                self._key = _load_public_key(settings.jwt_algorithm, settings.jwt_public_key or "")

    def _signing_key(self, token: str) -> Any:
        """The key for this token: by its ``kid`` from the JWKS (read again when it has
        expired or when the kid is new), of the configured algorithm, else refused."""
        if self._jwks is None:
            return self._key
        return signing_key(self._jwks, token, self._algorithm)

    def verify(self, token: str) -> Principal:
        """The caller of a valid token; ``jwt.InvalidTokenError`` (details for logs) otherwise.

        A token already verified is not checked again until it expires: a client sends the
        same token with every request, and checking it cost more than the rest of a read.
        """
        hit = self._verified.get(token)
        if hit is not None and time.time() < hit[1]:
            return hit[0]
        principal, expires = self._check(token)
        if len(self._verified) >= VERIFIED_TOKENS_KEPT:
            self._verified.clear()  # rare: a bound on memory, not an LRU worth its upkeep
        self._verified[token] = (principal, expires)
        return principal

    def _check(self, token: str) -> tuple[Principal, float]:
        s = self._settings
        claims = jwt.decode(
            token,
            self._signing_key(token),
            algorithms=[self._algorithm],
            issuer=s.jwt_issuer,
            audience=s.jwt_audience,
            leeway=s.jwt_leeway_s,
            options={
                "require": ["sub", "exp", "iat"],
                "verify_iss": s.jwt_issuer is not None,
                "verify_aud": s.jwt_audience is not None,
            },
        )
        subject = claims["sub"]
        if not isinstance(subject, str) or not 0 < len(subject) <= SUBJECT_MAX_LENGTH:
            raise jwt.InvalidTokenError(f"sub must be a string of 1-{SUBJECT_MAX_LENGTH} chars")
        if not is_storable_text(subject):
            raise jwt.InvalidTokenError("sub holds NUL or invalid Unicode")
        lifetime = claims["exp"] - claims["iat"]
        if not isinstance(lifetime, int) or lifetime > s.jwt_max_lifetime_s:
            raise jwt.InvalidTokenError(f"lifetime above {s.jwt_max_lifetime_s} s")
        principal = Principal(subject, _roles(claims.get(s.jwt_roles_claim)))
        return principal, float(claims["exp"]) + s.jwt_leeway_s


def _load_public_key(algorithm: str, pem: str) -> Any:
    verifier: Any = (
        jwt.algorithms.ECAlgorithm(jwt.algorithms.ECAlgorithm.SHA256)
        if algorithm == "ES256"
        else jwt.algorithms.RSAAlgorithm(jwt.algorithms.RSAAlgorithm.SHA256)
    )
    try:
        return verifier.prepare_key(pem)
    except (ValueError, TypeError, jwt.PyJWTError) as exc:
        raise ConfigurationError(
            f"configuration error: CQRSW_JWT_PUBLIC_KEY: not an {algorithm} public key"
            f" ({type(exc).__name__})"
        ) from None


def _roles(claim: Any) -> frozenset[str]:
    if claim is None:
        return frozenset()
    if not isinstance(claim, list) or not all(isinstance(r, str) for r in claim):
        raise jwt.InvalidTokenError("the roles claim must be a list of strings")
    return frozenset(claim).intersection(ROLES)


def issue_token(
    settings: Settings,
    subject: str,
    *,
    roles: Iterable[str] = (CUSTOMER,),
    ttl_s: int = 3600,
) -> str:
    """Sign a token: HS256 for dev, demo and tests; RS256 / ES256 only where the issuer's
    private key is (``CQRSW_JWT_PRIVATE_KEY_FILE``), which no service holds."""
    unknown = set(roles).difference(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}; known: {', '.join(ROLES)}")
    key: Any = settings.jwt_hs256_secret
    if settings.jwt_algorithm != "HS256":
        if settings.jwt_private_key_file is None:
            raise RuntimeError(
                f"{settings.jwt_algorithm} tokens are signed by the identity provider; set"
                " CQRSW_JWT_PRIVATE_KEY_FILE where the issuer runs"
            )
        key = settings.jwt_private_key_file.read_text()
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": subject,
        "iat": now,
        "exp": now + ttl_s,
        settings.jwt_roles_claim: sorted(set(roles)),
    }
    if settings.jwt_issuer is not None:
        claims["iss"] = settings.jwt_issuer
    if settings.jwt_audience is not None:
        claims["aud"] = settings.jwt_audience
    headers = {"kid": settings.jwt_key_id} if settings.jwt_key_id else None
    return jwt.encode(claims, key, algorithm=settings.jwt_algorithm, headers=headers)


def make_signing_keys(folder: Path, key_id: str, algorithm: str = "ES256") -> tuple[Path, Path]:
    """A new key pair for an issuer: the private key (PEM, 0600) and the public JWKS.

    For a stack without an identity provider (compose tried out locally): the services get
    the JWKS, ``cqrsw token`` alone the private key (``CQRSW_JWT_PRIVATE_KEY_FILE``).
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    key: Any = (
        ec.generate_private_key(ec.SECP256R1())
        if algorithm == "ES256"
        else rsa.generate_private_key(public_exponent=65537, key_size=3072)
    )
    folder.mkdir(parents=True, exist_ok=True)
    private = folder / f"{key_id}.pem"
    fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    family: Any = (
        jwt.algorithms.ECAlgorithm if algorithm == "ES256" else jwt.algorithms.RSAAlgorithm
    )
    public = {**family.to_jwk(key.public_key(), as_dict=True), "kid": key_id, "use": "sig"}
    public["alg"] = algorithm
    jwks = folder / "jwks.json"
    jwks.write_text(json.dumps({"keys": [public]}, indent=2) + "\n")
    return private, jwks
