"""Tokens checked with public keys from a JWKS that is read again: rotation, odd keys, 401s."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi.testclient import TestClient

from config.settings import ConfigurationError, Settings, load_settings
from services.orders.app import create_app as orders_app
from services.tokens import TokenVerifier, issue_token

RSA_KEYS = {kid: rsa.generate_private_key(public_exponent=65537, key_size=2048) for kid in "ab"}
EC_KEY = ec.generate_private_key(ec.SECP256R1())


def jwk(key: Any, kid: str) -> dict[str, Any]:
    public = key.public_key()
    algorithm = (
        jwt.algorithms.RSAAlgorithm
        if isinstance(key, rsa.RSAPrivateKey)
        else (jwt.algorithms.ECAlgorithm)
    )
    return {**json.loads(algorithm.to_jwk(public)), "kid": kid}


def write_jwks(path: Path, *keys: dict[str, Any]) -> Path:
    path.write_text(json.dumps({"keys": list(keys)}))
    return path


def sign(key: Any, kid: str | None, algorithm: str = "RS256", **claims: Any) -> str:
    now = int(time.time())
    headers = {"kid": kid} if kid is not None else None
    body = {"sub": "ann", "iat": now, "exp": now + 600, **claims}
    return jwt.encode(body, key, algorithm=algorithm, headers=headers)


def test_a_key_added_to_the_file_is_used_without_a_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    jwks = write_jwks(tmp_path / "jwks.json", jwk(RSA_KEYS["a"], "a"))
    verifier = TokenVerifier(Settings(jwt_algorithm="RS256", jwt_jwks_file=jwks))
    assert verifier.verify(sign(RSA_KEYS["a"], "a")).subject == "ann"
    rotated = sign(RSA_KEYS["b"], "b")
    with pytest.raises(jwt.InvalidKeyError):
        verifier.verify(rotated)
    write_jwks(jwks, jwk(RSA_KEYS["a"], "a"), jwk(RSA_KEYS["b"], "b"))
    later = time.monotonic() + 6  # past the cooldown after an unknown kid
    monkeypatch.setattr(time, "monotonic", lambda: later)
    assert verifier.verify(rotated).subject == "ann"


def test_a_key_removed_from_the_file_stops_verifying_after_the_refresh(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    jwks = write_jwks(tmp_path / "jwks.json", jwk(RSA_KEYS["a"], "a"), jwk(RSA_KEYS["b"], "b"))
    verifier = TokenVerifier(
        Settings(jwt_algorithm="RS256", jwt_jwks_file=jwks, jwt_jwks_refresh_s=60)
    )
    assert verifier.verify(sign(RSA_KEYS["a"], "a", exp=int(time.time()) + 30)).subject == "ann"
    write_jwks(jwks, jwk(RSA_KEYS["b"], "b"))
    later = time.monotonic() + 61
    monkeypatch.setattr(time, "monotonic", lambda: later)
    with pytest.raises(jwt.InvalidKeyError):
        verifier.verify(sign(RSA_KEYS["a"], "a", exp=int(time.time()) + 31))


def test_es256_tokens_are_checked_with_an_ec_key_of_the_jwks(tmp_path: Path) -> None:
    jwks = write_jwks(tmp_path / "jwks.json", jwk(EC_KEY, "ec"), jwk(RSA_KEYS["a"], "a"))
    verifier = TokenVerifier(Settings(jwt_algorithm="ES256", jwt_jwks_file=jwks))
    assert verifier.verify(sign(EC_KEY, "ec", "ES256")).subject == "ann"
    with pytest.raises(jwt.InvalidKeyError):  # an RSA key never checks an ES256 token
        verifier.verify(sign(RSA_KEYS["a"], "a", "RS256"))


def test_a_jwks_that_has_no_usable_key_stops_the_start(tmp_path: Path) -> None:
    jwks = write_jwks(tmp_path / "jwks.json", {"kty": "XYZ", "kid": "a"})
    with pytest.raises(ConfigurationError, match="CQRSW_JWT_JWKS_FILE"):
        TokenVerifier(Settings(jwt_algorithm="RS256", jwt_jwks_file=jwks))


def test_the_jwks_url_must_be_https() -> None:
    with pytest.raises(ConfigurationError, match="CQRSW_JWT_JWKS_URL"):
        load_settings(jwt_algorithm="RS256", jwt_jwks_url="http://idp.internal/jwks")


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    """A service whose JWKS holds an RSA key, an EC key, an HMAC key and an unsupported one."""
    hmac = {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"}
    jwks = write_jwks(
        tmp_path_factory.mktemp("jwks") / "jwks.json",
        jwk(RSA_KEYS["a"], "a"),
        jwk(EC_KEY, "ec"),
        hmac,
        {"kty": "XYZ", "kid": "odd"},
    )
    settings = Settings(jwt_algorithm="RS256", jwt_jwks_file=jwks)
    return TestClient(orders_app(settings), raise_server_exceptions=False)


@pytest.mark.parametrize(
    "token",
    [
        sign(RSA_KEYS["a"], "zz"),  # unknown kid
        sign(RSA_KEYS["a"], None),  # no kid
        sign(RSA_KEYS["b"], "a"),  # kid of another key
        sign(EC_KEY, "ec", "ES256"),  # an EC key, the service checks RS256
        sign(RSA_KEYS["a"], "ec"),  # RS256 header, the kid of an EC key
        sign(b"secret-secret-secret-secret-secret", "hmac", "HS256"),  # HMAC key confusion
        sign(RSA_KEYS["a"], "odd"),  # a key the JWKS holds but PyJWT cannot use
        "eyJhbGciOiJSUzI1NiIsImtpZCI6WzFdfQ.e30.c2ln",  # kid is a list
    ],
    ids=["unknown-kid", "no-kid", "wrong-key", "ec", "rs-on-ec", "hmac", "unusable", "odd-kid"],
)
def test_every_refused_token_is_a_401_never_a_500(service: TestClient, token: str) -> None:
    response = service.get("/auth/verify", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


def test_a_token_of_the_jwks_key_is_accepted(service: TestClient) -> None:
    response = service.get(
        "/auth/verify", headers={"Authorization": f"Bearer {sign(RSA_KEYS['a'], 'a')}"}
    )
    assert response.status_code == 204
    assert response.headers["X-User"] == "ann"


def test_the_issuer_signs_rs256_tokens_with_its_private_key(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization

    private = tmp_path / "issuer.pem"
    private.write_bytes(
        RSA_KEYS["a"].private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    jwks = write_jwks(tmp_path / "jwks.json", jwk(RSA_KEYS["a"], "a"))
    common: dict[str, Any] = {"jwt_algorithm": "RS256", "jwt_jwks_file": jwks}
    issuer = Settings(**common, jwt_private_key_file=private, jwt_key_id="a")
    token = issue_token(issuer, "bill", roles=["billing"])
    assert TokenVerifier(Settings(**common)).verify(token).roles == {"billing"}
    with pytest.raises(RuntimeError, match="CQRSW_JWT_PRIVATE_KEY_FILE"):
        issue_token(Settings(**common), "bill")


@pytest.mark.parametrize("algorithm", ["ES256", "RS256"])
def test_cqrsw_token_keys_makes_a_pair_the_services_and_the_issuer_use(
    tmp_path: Path,
    algorithm: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from cqrsw.cli import main

    assert main(["token-keys", str(tmp_path), "--kid", "k1", "--algorithm", algorithm]) == 0
    private, jwks = tmp_path / "k1.pem", tmp_path / "jwks.json"
    assert private.stat().st_mode & 0o777 == 0o600
    assert "PRIVATE" not in jwks.read_text()
    for name, value in {
        "CQRSW_JWT_ALGORITHM": algorithm,
        "CQRSW_JWT_PRIVATE_KEY_FILE": str(private),
        "CQRSW_JWT_KEY_ID": "k1",
        "CQRSW_JWT_JWKS_FILE": str(jwks),
    }.items():
        monkeypatch.setenv(name, value)
    capsys.readouterr()
    assert main(["token", "ann", "--role", "analyst"]) == 0
    token = capsys.readouterr().out.strip()
    verifier = TokenVerifier(Settings(jwt_algorithm=algorithm, jwt_jwks_file=jwks))
    assert verifier.verify(token).roles == {"analyst"}
    assert main(["token-keys", str(tmp_path), "--kid", "k1"]) == 2  # never overwritten
