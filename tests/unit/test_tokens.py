"""Hardened JWT checks and the settings that guard the signing secret (no IO)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from config.settings import DEV_JWT_SECRET, ConfigurationError, Settings, load_settings
from services.tokens import Principal, TokenVerifier

SECRET = "k" * 40


def sign(claims: dict[str, Any], key: Any = SECRET, **kw: Any) -> str:
    now = int(time.time())
    return jwt.encode({"sub": "ann", "iat": now, "exp": now + 600, **claims}, key, **kw)


def verify(token: str, **settings: Any) -> Principal:
    return TokenVerifier(Settings(jwt_secret=SECRET, **settings)).verify(token)


def test_issuer_and_audience_are_checked_when_configured() -> None:
    good = sign({"iss": "https://idp", "aud": "cqrsw"})
    assert verify(good, jwt_issuer="https://idp", jwt_audience="cqrsw").subject == "ann"
    with pytest.raises(jwt.InvalidIssuerError):
        verify(sign({"iss": "https://evil", "aud": "cqrsw"}), jwt_issuer="https://idp")
    with pytest.raises(jwt.InvalidAudienceError):
        verify(sign({"aud": "other"}), jwt_audience="cqrsw")
    with pytest.raises(jwt.MissingRequiredClaimError):
        verify(sign({}), jwt_issuer="https://idp")


def test_leeway_absorbs_small_clock_skew_only() -> None:
    now = int(time.time())
    just_expired = sign({"iat": now - 600, "exp": now - 5})
    assert verify(just_expired, jwt_leeway_s=30).subject == "ann"
    with pytest.raises(jwt.ExpiredSignatureError):
        verify(just_expired, jwt_leeway_s=0)
    with pytest.raises(jwt.ImmatureSignatureError):
        verify(sign({"iat": now + 120, "exp": now + 600}), jwt_leeway_s=30)


def test_tokens_living_longer_than_the_maximum_are_refused() -> None:
    now = int(time.time())
    long_lived = sign({"iat": now, "exp": now + 7200})
    assert verify(long_lived, jwt_max_lifetime_s=7200).subject == "ann"
    with pytest.raises(jwt.InvalidTokenError, match="lifetime"):
        verify(long_lived, jwt_max_lifetime_s=3600)
    with pytest.raises(jwt.MissingRequiredClaimError):
        verify(jwt.encode({"sub": "ann", "exp": now + 60}, SECRET))


@pytest.mark.parametrize("subject", ["a" * 201, "", "nul\x00byte", 42])
def test_subjects_the_contracts_cannot_carry_are_refused(subject: object) -> None:
    with pytest.raises(jwt.InvalidTokenError):
        verify(sign({"sub": subject}))


def test_a_subject_of_the_contract_limit_is_accepted() -> None:
    assert verify(sign({"sub": "a" * 200})).subject == "a" * 200


def test_roles_come_from_the_configured_claim_and_unknown_ones_are_dropped() -> None:
    token = sign({"https://cqrsw/roles": ["billing", "root"], "roles": ["stock"]})
    assert verify(token, jwt_roles_claim="https://cqrsw/roles").roles == {"billing"}
    assert verify(token).roles == {"stock"}
    assert verify(sign({})).roles == frozenset()
    with pytest.raises(jwt.InvalidTokenError, match="roles"):
        verify(sign({"roles": "billing"}))


def test_rs256_keys_from_a_jwks_file_are_chosen_by_kid(tmp_path: Path) -> None:
    keys = {kid: rsa.generate_private_key(public_exponent=65537, key_size=2048) for kid in "ab"}
    jwks = {
        "keys": [
            {**json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(k.public_key())), "kid": kid}
            for kid, k in keys.items()
        ]
    }
    (tmp_path / "jwks.json").write_text(json.dumps(jwks))
    verifier = TokenVerifier(Settings(jwt_algorithm="RS256", jwt_jwks_file=tmp_path / "jwks.json"))
    token = sign({}, keys["b"], algorithm="RS256", headers={"kid": "b"})
    assert verifier.verify(token).subject == "ann"
    wrong_kid = sign({}, keys["b"], algorithm="RS256", headers={"kid": "a"})
    with pytest.raises(jwt.InvalidSignatureError):
        verifier.verify(wrong_kid)
    with pytest.raises(jwt.PyJWTError):
        verifier.verify(sign({}, keys["a"], algorithm="RS256", headers={"kid": "zz"}))


@pytest.mark.parametrize(
    "overrides",
    [
        {"database_url": "postgresql://db.internal/x"},
        {"kafka_bootstrap_servers": "kafka-1:9092"},
    ],
)
def test_the_public_dev_secret_is_refused_outside_a_dev_embedded_stack(
    overrides: dict[str, str],
) -> None:
    with pytest.raises(ConfigurationError, match="CQRSW_JWT_SECRET is required"):
        load_settings(**overrides)


def test_dev_on_embedded_engines_falls_back_to_the_dev_secret() -> None:
    assert Settings().jwt_hs256_secret == DEV_JWT_SECRET


def test_an_empty_jwt_secret_is_refused_and_never_echoed() -> None:
    with pytest.raises(ConfigurationError, match="CQRSW_JWT_SECRET must not be empty"):
        load_settings(jwt_secret="   ")


def test_bad_settings_name_the_variable_without_the_value() -> None:
    with pytest.raises(ConfigurationError) as refused:
        load_settings(jwt_leeway_s="a-secret-looking-value")
    assert "CQRSW_JWT_LEEWAY_S" in str(refused.value)
    assert "a-secret-looking-value" not in str(refused.value)


@pytest.mark.parametrize("algorithm", ["RS256", "ES256"])
def test_public_key_algorithms_need_a_key_a_jwks_file_or_url(algorithm: str) -> None:
    with pytest.raises(ConfigurationError, match="CQRSW_JWT_JWKS_URL, CQRSW_JWT_JWKS_FILE"):
        load_settings(jwt_algorithm=algorithm)


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        ({"jwt_public_key": "not a pem"}, "CQRSW_JWT_PUBLIC_KEY"),
        ({"jwt_jwks_file": Path("/nonexistent/jwks.json")}, "CQRSW_JWT_JWKS_FILE"),
    ],
)
def test_unusable_rs256_keys_stop_the_start_naming_the_variable(
    overrides: dict[str, Any], variable: str
) -> None:
    with pytest.raises(ConfigurationError, match=variable):
        TokenVerifier(Settings(jwt_algorithm="RS256", **overrides))


def test_cqrsw_token_grants_the_roles_asked_for(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from cqrsw.cli import main

    monkeypatch.setenv("CQRSW_JWT_SECRET", SECRET)
    assert main(["token", "bill", "--role", "billing", "--role", "stock"]) == 0
    assert verify(capsys.readouterr().out.strip()).roles == {"billing", "stock"}
    assert main(["token", "ann"]) == 0
    assert verify(capsys.readouterr().out.strip()).roles == {"customer"}
    with pytest.raises(SystemExit):
        main(["token", "ann", "--role", "root"])


def test_a_verified_token_is_remembered_until_it_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    verifier = TokenVerifier(Settings(jwt_secret=SECRET, jwt_leeway_s=0))
    expires = int(time.time()) + 60
    token = sign({"exp": expires, "roles": ["analyst"]})
    assert verifier.verify(token) == Principal("ann", frozenset({"analyst"}))

    def expired(*_: Any, **__: Any) -> None:
        raise jwt.ExpiredSignatureError("Signature has expired")

    monkeypatch.setattr(jwt, "decode", expired)
    assert verifier.verify(token).subject == "ann"  # from memory, not decoded again
    monkeypatch.setattr(time, "time", lambda: expires + 1.0)
    with pytest.raises(jwt.ExpiredSignatureError):
        verifier.verify(token)  # past its exp: checked again, and refused
