#!/bin/sh
# Reads the apache/kafka variables docker-compose.yml sets: the first voter of
# KAFKA_CONTROLLER_QUORUM_VOTERS runs the broker and advertises the first (the clients')
# listener of KAFKA_ADVERTISED_LISTENERS, the only one Tansu has;
# every other node forwards port 9092 to it. Alone (no quorum given) it runs the broker.
set -eu
voters="${KAFKA_CONTROLLER_QUORUM_VOTERS:-1@localhost:9093}"
first="${voters%%,*}"   # 1@kafka-1:9093
first_id="${first%%@*}"
first_host="${first#*@}"
first_host="${first_host%%:*}"
if [ "${KAFKA_NODE_ID:-$first_id}" = "$first_id" ]; then
    advertised="${KAFKA_ADVERTISED_LISTENERS:-PLAINTEXT://localhost:9092}"
    advertised="${advertised%%,*}"   # CLIENT://kafka-1:9092
    exec tansu broker --cluster-id "${CLUSTER_ID:-tansu_cluster}" \
        --listener-url tcp://0.0.0.0:9092 \
        --advertised-listener-url "tcp://${advertised#*://}" \
        --storage-engine memory://tansu/
fi
exec socat TCP-LISTEN:9092,fork,reuseaddr "TCP:${first_host}:9092"
