"""SASL and TLS settings reach the relay's producer and the ingest's consumer as documented."""

from __future__ import annotations

from pathlib import Path

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer

from config.settings import ConfigurationError, Settings, load_settings
from ingest.job import consumer_config
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
