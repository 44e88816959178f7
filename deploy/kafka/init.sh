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
  "/opt/kafka/bin/kafka-$tool.sh" --bootstrap-server "$KAFKA_ADMIN_BOOTSTRAP" \
    --command-config "$admin" "$@"
}

# Topics: one per event type.
kafka topics --create --if-not-exists --topic order.created --partitions "$KAFKA_TOPIC_PARTITIONS" --replication-factor "$KAFKA_TOPIC_REPLICATION_FACTOR"
kafka topics --create --if-not-exists --topic order.cancelled --partitions "$KAFKA_TOPIC_PARTITIONS" --replication-factor "$KAFKA_TOPIC_REPLICATION_FACTOR"
kafka topics --create --if-not-exists --topic invoice.created --partitions "$KAFKA_TOPIC_PARTITIONS" --replication-factor "$KAFKA_TOPIC_REPLICATION_FACTOR"
kafka topics --create --if-not-exists --topic stock.updated --partitions "$KAFKA_TOPIC_PARTITIONS" --replication-factor "$KAFKA_TOPIC_REPLICATION_FACTOR"
# Users: each with the password only its own container is given.
kafka configs --alter --entity-type users --entity-name orders --add-config "SCRAM-SHA-512=[password=$(cat /run/secrets/kafka-password-orders)]"
kafka configs --alter --entity-type users --entity-name invoices --add-config "SCRAM-SHA-512=[password=$(cat /run/secrets/kafka-password-invoices)]"
kafka configs --alter --entity-type users --entity-name stock --add-config "SCRAM-SHA-512=[password=$(cat /run/secrets/kafka-password-stock)]"
kafka configs --alter --entity-type users --entity-name ingest --add-config "SCRAM-SHA-512=[password=$(cat /run/secrets/kafka-password-ingest)]"
kafka configs --alter --entity-type users --entity-name init --add-config "SCRAM-SHA-512=[password=$(cat /run/secrets/kafka-password-init)]"
# ACLs: nothing else is allowed.
kafka acls --add --allow-principal User:orders --operation Write --operation Describe --topic order.created
kafka acls --add --allow-principal User:orders --operation Write --operation Describe --topic order.cancelled
kafka acls --add --allow-principal User:invoices --operation Write --operation Describe --topic invoice.created
kafka acls --add --allow-principal User:stock --operation Write --operation Describe --topic stock.updated
kafka acls --add --allow-principal User:ingest --operation Read --operation Describe --topic order.created
kafka acls --add --allow-principal User:ingest --operation Read --operation Describe --topic order.cancelled
kafka acls --add --allow-principal User:ingest --operation Read --operation Describe --topic invoice.created
kafka acls --add --allow-principal User:ingest --operation Read --operation Describe --topic stock.updated
kafka acls --add --allow-principal User:ingest --operation Describe --group cqrsw-ingest
kafka acls --add --allow-principal User:init --operation Create --operation Describe --topic order.created
kafka acls --add --allow-principal User:init --operation Create --operation Describe --topic order.cancelled
kafka acls --add --allow-principal User:init --operation Create --operation Describe --topic invoice.created
kafka acls --add --allow-principal User:init --operation Create --operation Describe --topic stock.updated
