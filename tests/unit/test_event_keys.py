"""Event keys as files: generated for dev, required in prod, a rotated set read as written."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI
from fastapi.testclient import TestClient

from config.settings import ConfigurationError, Settings
from contracts.catalog import PRODUCERS
from contracts.key_files import (
    TRUSTED_FILE,
    jwks_bytes,
    load_signer,
    load_trusted,
    local_keys_dir,
    new_key_file,
    signer_for,
    trusted_keys,
)
from contracts.signatures import trusted_from_jwks
from cqrsw.cli import main
from ingest.job import run_ingest
from services.invoices.app import create_app as invoices_app
from services.orders.app import create_app as orders_app
from services.stock.app import create_app as stock_app

# Prod checks tokens with a public key and their issuer and audience, and seals read tokens.
PROD_TOKENS = {
    "jwt_algorithm": "ES256",
    "jwt_public_key": ec.generate_private_key(ec.SECP256R1())
    .public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode(),
    "jwt_issuer": "https://idp.internal",
    "jwt_audience": "cqrsw",
    "read_token_key": secrets.token_urlsafe(32),
}


def prod(tmp_path: Path, **extra: object) -> Settings:
    return Settings(env="prod", state_dir=tmp_path, **PROD_TOKENS, **extra)  # type: ignore[arg-type]


def test_dev_generates_one_private_key_per_producer_and_their_trusted_set(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path)
    signers = {p: signer_for(settings, p) for p in PRODUCERS}
    folder = local_keys_dir(settings)
    assert folder.stat().st_mode & 0o777 == 0o700
    for producer in PRODUCERS:
        assert (folder / f"{producer}.pem").stat().st_mode & 0o777 == 0o600
    trusted = trusted_keys(settings)
    assert {k: t.producer for k, t in trusted.by_id.items()} == {
        s.key_id: p for p, s in signers.items()
    }
    # Made once: a second start finds the same keys.
    assert signer_for(settings, "orders").key_id == signers["orders"].key_id


@pytest.mark.parametrize("component", ["signer", "trusted"])
def test_prod_refuses_to_start_without_its_key(tmp_path: Path, component: str) -> None:
    settings = prod(tmp_path)
    with pytest.raises(ConfigurationError, match="CQRSW_EVENT_"):
        if component == "signer":
            signer_for(settings, "orders")
        else:
            trusted_keys(settings)
    assert not local_keys_dir(settings).exists()  # nothing generated in prod


def test_prod_uses_the_files_it_is_given(tmp_path: Path) -> None:
    old = new_key_file(tmp_path / "orders-old.pem", "orders")
    new = new_key_file(tmp_path / "orders-new.pem", "orders")
    keyset = tmp_path / "trusted.json"
    keyset.write_bytes(jwks_bytes([old, new]))
    settings = prod(
        tmp_path, event_signing_key_file=tmp_path / "orders-new.pem", event_trusted_keys_file=keyset
    )
    assert signer_for(settings, "orders").key_id == new.key_id
    assert set(trusted_keys(settings).by_id) == {old.key_id, new.key_id}
    with pytest.raises(ConfigurationError, match="never overwritten"):
        new_key_file(tmp_path / "orders-new.pem", "orders")


def test_an_unusable_key_file_is_a_configuration_error_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / TRUSTED_FILE
    bad.write_bytes(orjson.dumps({"keys": [{"kty": "RSA", "kid": "x"}]}))
    with pytest.raises(ConfigurationError, match="only OKP Ed25519"):
        load_trusted(bad)
    not_a_key = tmp_path / "orders.pem"
    not_a_key.write_text("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    with pytest.raises(ConfigurationError, match=r"orders\.pem"):
        signer_for(prod(tmp_path, event_signing_key_file=not_a_key), "orders")


def test_the_rotation_command_writes_a_key_and_prints_its_trusted_entry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:

    key = tmp_path / "orders-2027.pem"
    assert main(["event-keys", "new", "orders", str(key)]) == 0
    entry = orjson.loads(capsys.readouterr().out)
    trusted = trusted_from_jwks({"keys": [entry]})
    assert set(trusted.by_id) == {load_signer(key, "orders").key_id}
    assert key.stat().st_mode & 0o777 == 0o600
    assert main(["event-keys", "new", "orders", str(key)]) == 2  # never overwritten


def test_the_folder_command_makes_every_key_and_the_trusted_set_of_their_public_keys(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "event-keys"
    assert main(["event-keys", "folder", str(folder)]) == 0
    trusted = load_trusted(folder / TRUSTED_FILE)
    for producer in PRODUCERS:
        signer = load_signer(folder / f"{producer}.pem", producer)
        assert trusted.by_id[signer.key_id].producer == producer
        assert (folder / f"{producer}.pem").stat().st_mode & 0o777 == 0o600
    assert len(trusted.by_id) == len(PRODUCERS)
    assert b'"d"' not in (folder / TRUSTED_FILE).read_bytes()  # public keys only
    before = (folder / "orders.pem").read_bytes()
    assert main(["event-keys", "folder", str(folder)]) == 0
    assert (folder / "orders.pem").read_bytes() == before  # kept, never replaced


@pytest.mark.parametrize("factory", [orders_app, invoices_app, stock_app])
def test_a_write_service_in_prod_without_its_key_does_not_start(
    tmp_path: Path, factory: Callable[[Settings], FastAPI]
) -> None:
    app = factory(prod(tmp_path, database_url="postgresql://db.invalid/x"))
    with pytest.raises(ConfigurationError, match="CQRSW_EVENT_SIGNING_KEY_FILE"), TestClient(app):
        pass  # refused before it connects to anything


def test_the_ingest_in_prod_without_trusted_keys_does_not_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="CQRSW_EVENT_TRUSTED_KEYS_FILE"):
        run_ingest(prod(tmp_path, database_url="postgresql://db.invalid/x"))
