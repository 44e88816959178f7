"""How the Kafka clients authenticate and encrypt (SASL, TLS); ``Settings`` extends it."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Self

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings


class KafkaSecuritySettings(BaseSettings):
    """The outbox relay's producer and the ingest's consumer connect with these."""

    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT",
        description="PLAINTEXT for the embedded broker on loopback; SASL_SSL on a real cluster.",
    )
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = Field(
        default="SCRAM-SHA-512", description="SASL mechanism when the protocol is SASL_*."
    )
    kafka_sasl_username: str | None = Field(
        default=None, description="This component's Kafka user (its topic ACLs follow it)."
    )
    kafka_sasl_password_file: Path | None = Field(
        default=None, description="File holding that user's password (read at connect)."
    )
    kafka_ssl_cafile: Path | None = Field(
        default=None, description="CA bundle that signed the brokers' certificates (SSL)."
    )

    @model_validator(mode="after")
    def _sasl_needs_credentials(self) -> Self:
        if self.kafka_security_protocol.startswith("SASL_") and (
            not self.kafka_sasl_username or self.kafka_sasl_password_file is None
        ):
            raise ValueError(
                "CQRSW_KAFKA_SASL_USERNAME and CQRSW_KAFKA_SASL_PASSWORD_FILE are required"
                f" when CQRSW_KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol}"
            )
        return self

    def kafka_client_options(self) -> dict[str, Any]:
        """kafka-python's constructor arguments for these settings (producer and consumer)."""
        options: dict[str, Any] = {"security_protocol": self.kafka_security_protocol}
        if self.kafka_security_protocol.startswith("SASL_"):
            assert self.kafka_sasl_password_file is not None  # checked above
            options.update(
                sasl_mechanism=self.kafka_sasl_mechanism,
                sasl_plain_username=self.kafka_sasl_username,
                sasl_plain_password=self.kafka_sasl_password_file.read_text().strip(),
            )
        if self.kafka_security_protocol.endswith("SSL"):
            options.update(ssl_check_hostname=True)
            if self.kafka_ssl_cafile is not None:
                options.update(ssl_cafile=str(self.kafka_ssl_cafile))
        return options
