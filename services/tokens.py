"""JWTs: who the caller is and which roles they hold, checked with PyJWT; no HTTP here."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import jwt

from config.settings import ConfigurationError, Settings
from services.fields import SUBJECT_MAX_LENGTH, is_storable_text

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
        self._jwks: jwt.PyJWKSet | None = None
        self._key: Any = None
        if settings.jwt_algorithm == "HS256":
            self._key = settings.jwt_hs256_secret
        elif settings.jwt_jwks_file is not None:
            self._jwks = _load_jwks(settings.jwt_jwks_file)
        else:
            self._key = _load_public_key(settings.jwt_public_key or "")

    def _signing_key(self, token: str) -> Any:
        if self._jwks is None:
            return self._key
        kid = jwt.get_unverified_header(token).get("kid")
        for key in self._jwks.keys:
            if key.key_id == kid:
                return key.key
        raise jwt.InvalidKeyError("no key in the JWKS file has this token's kid")

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


def _load_jwks(path: Path) -> jwt.PyJWKSet:
    """The keys of a JWKS file, or a configuration error at start-up (never per request)."""
    try:
        return jwt.PyJWKSet.from_json(path.read_text())
    except (OSError, ValueError, jwt.PyJWTError) as exc:
        raise ConfigurationError(
            "configuration error: CQRSW_JWT_JWKS_FILE: not a readable JWKS file"
            f" ({type(exc).__name__})"
        ) from None


def _load_public_key(pem: str) -> Any:
    try:
        return jwt.algorithms.RSAAlgorithm(jwt.algorithms.RSAAlgorithm.SHA256).prepare_key(pem)
    except (ValueError, jwt.PyJWTError) as exc:
        raise ConfigurationError(
            "configuration error: CQRSW_JWT_PUBLIC_KEY: not an RSA public key"
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
    """Sign an HS256 token for dev, demo and tests; in production the identity provider does."""
    if settings.jwt_algorithm != "HS256":
        raise RuntimeError("tokens can only be issued locally with HS256")
    unknown = set(roles).difference(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}; known: {', '.join(ROLES)}")
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
    return jwt.encode(claims, settings.jwt_hs256_secret, algorithm="HS256")
