"""Is a secret fit for production: not a placeholder, not public, long and varied enough.

One check for every secret the project takes (its own settings, and what the container
entrypoint hands to Airflow, Grafana and PostgreSQL), so that all are held to the same rules.
The answers name the problem, never the value: they end up in logs.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

# Published in the repo on purpose: it signs only tokens for a dev stack on embedded engines.
DEV_JWT_SECRET = "dev-secret-change-me-0123456789abcdef"
# Words the templates (.env.example, the Kubernetes Secret template) and tutorials put where
# a real value belongs; compared without case, punctuation or spaces.
PLACEHOLDER_WORDS = ("changeme", "replaceme", "placeholder", "example", "secret", "password")
PUBLIC_SECRETS = (DEV_JWT_SECRET,)
# Shannon entropy per character, estimated from the value itself: a random 16-character
# password has about 3.6-4 bits, "aaaa..." 0, "abcabc..." 1.6.
MIN_BITS_PER_CHAR = 3.0
FERNET_KEY_BYTES = 32
MIN_DISTINCT_KEY_BYTES = 16  # a random 32-byte key has about 30 distinct bytes


class SecretKind(Enum):
    """What a secret is for; each kind has its own minimum length (bytes of UTF-8)."""

    PASSWORD = 16  # database roles, the Airflow and Grafana admins
    SIGNING_KEY = 32  # HS256 (and Airflow's JWT secret): RFC 7518 wants 256 bits
    FERNET_KEY = 44  # url-safe base64 of 32 bytes: Airflow's encryption of connections

    @property
    def min_length(self) -> int:
        return self.value


@dataclass(frozen=True)
class EnvironmentSecret:
    """A secret given to a container by an environment variable, and what it is for."""

    variable: str
    kind: SecretKind
    required: bool = False


def weakness(value: str, kind: SecretKind) -> str | None:
    """Why ``value`` is unfit as a production secret of ``kind``, or None if it is fit."""
    if not value.strip():
        return "is empty"
    if value in PUBLIC_SECRETS:
        return "is the public development secret"
    folded = "".join(ch for ch in value.lower() if ch.isalnum())
    word = next((w for w in PLACEHOLDER_WORDS if w in folded), None)
    if word is not None:
        return f"looks like a placeholder (contains {word!r}): use a random value"
    if kind is SecretKind.FERNET_KEY:
        return _fernet_weakness(value)
    if len(value.encode()) < kind.min_length:
        return f"must be at least {kind.min_length} bytes"
    if bits_per_char(value) < MIN_BITS_PER_CHAR:
        return "is too repetitive (low entropy): use a random value"
    return None


def bits_per_char(value: str) -> float:
    """Shannon entropy of the value's own character frequencies, in bits per character."""
    counts = Counter(value)
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values()) if n else 0.0


def _fernet_weakness(value: str) -> str | None:
    try:
        key = base64.urlsafe_b64decode(value.encode())
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != FERNET_KEY_BYTES:
        return (
            "must be a Fernet key: url-safe base64 of 32 random bytes (python -c"
            ' "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())")'
        )
    if len(set(key)) < MIN_DISTINCT_KEY_BYTES:
        return "is too repetitive (low entropy): generate a random Fernet key"
    return None


# Secrets handed to processes this project does not configure through its settings: Airflow
# reads its own ``AIRFLOW__*`` variables, the official PostgreSQL and Grafana images theirs.
# The container entrypoint checks those it is given, in prod (cqrsw.container).
ENVIRONMENT_SECRETS: tuple[EnvironmentSecret, ...] = (
    EnvironmentSecret("AIRFLOW__API_AUTH__JWT_SECRET", SecretKind.SIGNING_KEY),
    EnvironmentSecret("AIRFLOW__CORE__FERNET_KEY", SecretKind.FERNET_KEY),
    EnvironmentSecret("POSTGRES_PASSWORD", SecretKind.PASSWORD),
    EnvironmentSecret("GF_SECURITY_ADMIN_PASSWORD", SecretKind.PASSWORD),
)
# Airflow in prod: without these, each component signs its own tokens (they stop trusting
# each other) and connections are stored unencrypted.
AIRFLOW_REQUIRED = ("AIRFLOW__API_AUTH__JWT_SECRET", "AIRFLOW__CORE__FERNET_KEY")


def environment_problems(environ: Mapping[str, str], required: tuple[str, ...] = ()) -> list[str]:
    """One line per unfit secret among ``ENVIRONMENT_SECRETS`` in ``environ``, by variable."""
    problems = []
    for secret in ENVIRONMENT_SECRETS:
        value = environ.get(secret.variable)
        if value is None:
            if secret.variable in required:
                problems.append(f"{secret.variable}: is required in prod")
            continue
        why = weakness(value, secret.kind)
        if why is not None:
            problems.append(f"{secret.variable}: {why}")
    return problems
