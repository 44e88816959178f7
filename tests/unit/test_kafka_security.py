"""SASL and TLS settings reach the relay's producer and the ingest's consumers as documented."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from confluent_kafka import Consumer
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer

from config.settings import ConfigurationError, Settings, load_settings
from ingest.job import consumer_config
from ingest.reader import connection_config, librdkafka_options, make_admin, reader_config
from services.outbox import producer_config
from tests.unit.test_secret_checks import PROD, STRONG


def secured(tmp_path: Path) -> Settings:
    password = tmp_path / "kafka-password"
    password.write_text("s3cret-from-a-file\n")
    return Settings(
        kafka_bootstrap_servers="kafka-1:9093",
        jwt_secret="q" * 40,
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_username="cqrsw-orders",
        kafka_sasl_password_file=password,
        kafka_ssl_cafile=tmp_path / "ca.pem",
    )


def test_sasl_scram_over_tls_reaches_the_producer_and_the_consumer(tmp_path: Path) -> None:
    settings = secured(tmp_path)
    expected = {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "cqrsw-orders",
        "sasl_plain_password": "s3cret-from-a-file",
        "ssl_cafile": str(tmp_path / "ca.pem"),
        "ssl_check_hostname": True,
    }
    for config, client in (
        (producer_config(settings), KafkaProducer),
        (consumer_config(settings), KafkaConsumer),
    ):
        assert {k: config[k] for k in expected} == expected
        # Every argument is one the client documents (an unknown one fails its constructor).
        assert set(config) <= set(client.DEFAULT_CONFIG)
    # Topic creation (`stack up`, the container's init) connects with the same options.
    assert settings.kafka_client_options().items() <= producer_config(settings).items()
    assert set(settings.kafka_client_options()) <= set(KafkaAdminClient.DEFAULT_CONFIG)


def test_plaintext_is_the_default_and_carries_no_credentials() -> None:
    config = producer_config(Settings())
    assert config["security_protocol"] == "PLAINTEXT"
    assert not {k for k in config if k.startswith(("sasl_", "ssl_"))}


def test_sasl_without_a_user_or_password_file_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="CQRSW_KAFKA_SASL_USERNAME"):
        load_settings(kafka_security_protocol="SASL_SSL", kafka_sasl_username="orders")


@pytest.mark.parametrize("weak", ["change-me", "CHANGE-ME", "short"])
def test_prod_refuses_a_weak_kafka_password_naming_the_file_not_the_value(
    tmp_path: Path, weak: str
) -> None:
    password = tmp_path / "kafka-password"
    password.write_text(weak + "\n")
    settings = load_settings(
        _env_file=None,
        **PROD,
        kafka_security_protocol="SASL_SSL",
        kafka_sasl_username="orders",
        kafka_sasl_password_file=password,
    )
    with pytest.raises(ConfigurationError) as refused:
        producer_config(settings)
    assert "CQRSW_KAFKA_SASL_PASSWORD_FILE" in str(refused.value)
    assert weak not in str(refused.value).split("FILE", 1)[1]
    password.write_text(STRONG)
    assert producer_config(settings)["sasl_plain_password"] == STRONG


LIBRDKAFKA_SECURITY = (
    "security.protocol", "sasl.mechanism", "sasl.username", "sasl.password", "ssl.ca.location",
    "ssl.endpoint.identification.algorithm",
)  # fmt: skip


def self_signed_ca(path: Path) -> None:
    """A CA certificate librdkafka can load (it reads ``ssl.ca.location`` when created)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test-ca")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def test_the_ingest_reader_gets_the_same_sasl_and_tls_settings_in_librdkafka_terms(
    tmp_path: Path,
) -> None:
    settings = secured(tmp_path)
    self_signed_ca(tmp_path / "ca.pem")
    config = reader_config(settings)
    assert {k: config[k] for k in LIBRDKAFKA_SECURITY} == {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "cqrsw-orders",
        "sasl.password": "s3cret-from-a-file",
        "ssl.ca.location": str(tmp_path / "ca.pem"),
        "ssl.endpoint.identification.algorithm": "https",
    }
    # Never commits: offsets are kept in the warehouse, with the rows.
    assert config["enable.auto.commit"] is False and config["enable.auto.offset.store"] is False
    # librdkafka checks every property when the consumer is made (an unknown or misspelt one
    # raises); nothing connects until the consumer is assigned partitions.
    Consumer(config).close()


def test_the_ingest_admin_client_connects_as_the_reader_does(tmp_path: Path) -> None:
    """The topic-id lookup (``ingest.positions.topic_ids``) goes as the same Kafka user."""
    settings = secured(tmp_path)
    self_signed_ca(tmp_path / "ca.pem")
    config = connection_config(settings)
    assert config.items() <= reader_config(settings).items()
    assert {k for k in config if k.startswith(("sasl.", "ssl.", "security."))} == set(
        LIBRDKAFKA_SECURITY
    )
    with make_admin(settings):  # librdkafka checks every property when the client is made
        pass


def test_the_reader_refuses_a_client_option_it_does_not_map(tmp_path: Path) -> None:
    options = secured(tmp_path).kafka_client_options()
    assert librdkafka_options(options)["sasl.username"] == "cqrsw-orders"
    with pytest.raises(ValueError, match="sasl_kerberos_service_name"):
        librdkafka_options({**options, "sasl_kerberos_service_name": "kafka"})


def test_a_plaintext_reader_carries_no_credentials() -> None:
    config = reader_config(Settings())
    assert config["security.protocol"] == "PLAINTEXT"
    assert not {k for k in config if k.startswith(("sasl.", "ssl."))}
    Consumer(config).close()
