"""Kafka's topic ids, as confluent-kafka gives them, in the form the warehouse stores."""

from __future__ import annotations

import uuid

import pytest
from confluent_kafka import Uuid

from ingest.positions import uuid_text


def signed(bits: int) -> int:
    """64 bits as Java's long (how Kafka, librdkafka and confluent-kafka hold each half)."""
    return bits - 2**64 if bits >= 2**63 else bits


@pytest.mark.parametrize(
    "text",
    [
        "01a24e91-6d4b-7de0-a679-12ec2005101f",  # an id Tansu gave (low half above 2**63)
        "f47ac10b-58cc-4372-a567-0e02b2c3d479",  # both halves above 2**63
        "00000000-0000-0000-0000-000000000001",
    ],
)
def test_a_topic_id_reads_as_the_uuid_the_warehouse_stores(text: str) -> None:
    bits = uuid.UUID(text).int
    topic_id = Uuid(signed(bits >> 64), signed(bits & (2**64 - 1)))
    assert uuid_text(topic_id) == text


def test_the_zero_id_of_a_broker_that_keeps_none_is_no_id() -> None:
    assert uuid_text(Uuid(0, 0)) is None
