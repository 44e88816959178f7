"""The Kafka client that reads the ingest's partitions: librdkafka, through confluent-kafka.

kafka-python parses every record batch in Python, under the interpreter lock that decoding
and the writer thread need too (about 12-16 us of CPU a message on 1,151-byte envelopes,
measured 2026-12-06). librdkafka fetches and parses in its own threads without that lock;
handing a message to Python costs about 2 us. Planning a run (partitions, start and end
offsets, the message before a stored offset: ``ingest.positions``) stays with kafka-python,
which the relays' producer uses too; the topics' ids come from confluent-kafka's
``AdminClient.describe_topics`` (``make_admin``), since kafka-python's consumer exposes none.

The reader is assigned its partitions at the offsets stored in the warehouse
(``Consumer.assign`` with offsets) and never commits: offsets are kept with the rows, in the
batch's transaction (exactly once, docs/adr/exactly-once-ingest.md). librdkafka needs a
``group.id`` even then; it only looks up the group's coordinator, which on a cluster with
ACLs takes Describe on that group (``contracts.kafka_acls``). It never joins the group.
It delivers records only: a partition whose last offsets hold none is seen to be read to its
end by ``ingest.gaps``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Message
from confluent_kafka.admin import AdminClient

from config.component_secrets import INGEST_KAFKA_GROUP
from config.settings import Settings

log = logging.getLogger(__name__)


# The settings' client options, as kafka-python names them, to librdkafka's properties.
_PROPERTY = {
    "security_protocol": "security.protocol",
    "sasl_mechanism": "sasl.mechanism",
    "sasl_plain_username": "sasl.username",
    "sasl_plain_password": "sasl.password",
    "ssl_cafile": "ssl.ca.location",
}
_CHECK_HOSTNAME = "ssl_check_hostname"


def librdkafka_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """The settings' Kafka client options (kafka-python's names) as librdkafka properties;
    ValueError for one not mapped here, rather than a client connecting without it."""
    config: dict[str, Any] = {}
    for name, value in options.items():
        if name == _CHECK_HOSTNAME:
            config["ssl.endpoint.identification.algorithm"] = "https" if value else "none"
        elif name in _PROPERTY:
            config[_PROPERTY[name]] = value
        else:
            raise ValueError(f"Kafka client option {name!r} has no librdkafka property here")
    return config


def connection_config(settings: Settings) -> dict[str, Any]:
    """Where and how a librdkafka client of the ingest connects: brokers, SASL/TLS."""
    return {
        "bootstrap.servers": ",".join(settings.bootstrap_servers),
        **librdkafka_options(settings.kafka_client_options()),
    }


def reader_config(settings: Settings) -> dict[str, Any]:
    """librdkafka's configuration for the ingest: large fetches, SASL/TLS from the settings."""
    return {
        **connection_config(settings),
        "group.id": INGEST_KAFKA_GROUP,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        # Every record, as the planning consumer and ``ingest.gaps`` (kafka-python) see them:
        # the run's end is the high watermark, which read_committed stops short of while a
        # transaction is open.
        "isolation.level": "read_uncommitted",
        "auto.offset.reset": "earliest",
        "fetch.max.bytes": 64 * 1024 * 1024,
        "max.partition.fetch.bytes": 16 * 1024 * 1024,
        "queued.max.messages.kbytes": 64 * 1024,  # bound on prefetched messages (its default)
        "socket.timeout.ms": 30_000,
    }


def make_reader(settings: Settings) -> Consumer:
    return Consumer(reader_config(settings), logger=log)


def make_admin(settings: Settings) -> AdminClient:
    """The admin client that looks up the topics' ids (a Metadata request: Describe on each
    topic, which the ingest's Kafka user holds). Use it in a ``with`` block: that closes it."""
    return AdminClient(connection_config(settings), logger=log)


def check(message: Message, error: KafkaError) -> None:
    """Raise for an error the run cannot outlive; log one librdkafka recovers from.

    A fatal error, or one naming a partition that a retry will not cure (an unknown topic,
    a denied read), stops the run before anything more is written. Others (a broker down,
    a connection lost) are retried by librdkafka; the run's deadline bounds the wait.
    """
    if error.fatal() or (message.topic() is not None and not error.retriable()):
        raise KafkaException(error)
    log.warning("Kafka: %s (retrying)", error.str())
