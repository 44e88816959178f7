"""Who may do what on which topic of a Kafka with ACLs: derived from the catalogue.

Each write service may write (and describe) the topics of the events it produces and no
other; the ingest may read and describe every topic and write none (describing a topic is
also what gives it the topic's id: confluent-kafka's ``describe_topics`` sends a Metadata
request), and describe its own consumer group (librdkafka looks up its coordinator; it never
joins it); init may create and describe them.
Nothing else is granted, and the brokers deny what is not granted
(``allow.everyone.if.no.acl.found=false``). ``render_init_script`` writes compose's
``deploy/kafka/init.sh``: the topics, one SCRAM user per Kafka client, these ACLs.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Literal

from config.component_secrets import (
    INGEST_KAFKA_GROUP,
    INGEST_KAFKA_USER,
    INIT_KAFKA_USER,
    KAFKA_USERS,
)
from contracts.catalog import CATALOGUE, TOPICS

SCRAM_MECHANISM = "SCRAM-SHA-512"
# Where kafka-init finds each user's password: compose mounts the secret there.
PASSWORD_DIR = "/run/secrets"


@dataclass(frozen=True)
class Grant:
    """``user`` may do ``operations`` on the topic (or group) ``name``: a literal name, never
    a prefix or ``*``."""

    user: str
    operations: tuple[str, ...]
    name: str
    resource: Literal["topic", "group"] = "topic"


def grants() -> tuple[Grant, ...]:
    """Every ACL the cluster holds."""
    owned = tuple(Grant(e.producer, ("Write", "Describe"), e.topic) for e in CATALOGUE)
    read = tuple(Grant(INGEST_KAFKA_USER, ("Read", "Describe"), topic) for topic in TOPICS)
    group = Grant(INGEST_KAFKA_USER, ("Describe",), INGEST_KAFKA_GROUP, "group")
    create = tuple(Grant(INIT_KAFKA_USER, ("Create", "Describe"), topic) for topic in TOPICS)
    return (*owned, *read, group, *create)


def password_file(user: str) -> str:
    return f"{PASSWORD_DIR}/kafka-password-{user}"


HEADER = """\
#!/bin/sh
# Generated from contracts/catalog.py by `python -m contracts.generate`: do not edit.
# compose's kafka-init: the topics, one SCRAM user per Kafka client and the topic ACLs
# (contracts/kafka_acls.py; docs/security.md). It connects as kafka-admin: a client
# certificate the brokers take as a super user, on the brokers' TLS listener.
set -eu
admin=/tmp/kafka-admin.properties
cat > "$admin" <<EOF
security.protocol=SSL
ssl.keystore.type=PEM
ssl.keystore.location=/run/secrets/kafka-tls.pem
ssl.truststore.type=PEM
ssl.truststore.location=/etc/kafka/tls/ca.pem
EOF
kafka() {
  tool=$1
  shift
  "/opt/kafka/bin/kafka-$tool.sh" --bootstrap-server "$KAFKA_ADMIN_BOOTSTRAP" \\
    --command-config "$admin" "$@"
}
"""


def render_init_script() -> str:
    lines = [HEADER]
    lines.append("# Topics: one per event type.")
    for topic in TOPICS:
        lines.append(
            f"kafka topics --create --if-not-exists --topic {shlex.quote(topic)}"
            ' --partitions "$KAFKA_TOPIC_PARTITIONS"'
            ' --replication-factor "$KAFKA_TOPIC_REPLICATION_FACTOR"'
        )
    lines.append("# Users: each with the password only its own container is given.")
    for user in KAFKA_USERS:
        config = f"{SCRAM_MECHANISM}=[password=$(cat {password_file(user)})]"
        lines.append(
            f"kafka configs --alter --entity-type users --entity-name {shlex.quote(user)}"
            f' --add-config "{config}"'
        )
    lines.append("# ACLs: nothing else is allowed.")
    for grant in grants():
        operations = " ".join(f"--operation {op}" for op in grant.operations)
        lines.append(
            f"kafka acls --add --allow-principal User:{grant.user} {operations}"
            f" --{grant.resource} {shlex.quote(grant.name)}"
        )
    return "\n".join(lines) + "\n"
