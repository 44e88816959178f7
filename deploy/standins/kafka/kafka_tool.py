"""The two Apache Kafka scripts docker-compose.yml runs, for the Tansu stand-in image.

``topics --bootstrap-server HOST:PORT --create [--if-not-exists] --topic T --partitions N
--replication-factor R`` creates a topic; ``api-versions --bootstrap-server HOST:PORT`` exits
0 when the broker answers (the healthcheck).
"""

from __future__ import annotations

import argparse
import sys

from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="kafka_tool")
    parser.add_argument("command", choices=["topics", "api-versions"])
    parser.add_argument("--bootstrap-server", required=True)
    parser.add_argument("--create", action="store_true")
    parser.add_argument("--if-not-exists", action="store_true")
    parser.add_argument("--topic")
    parser.add_argument("--partitions", type=int, default=1)
    parser.add_argument("--replication-factor", type=int, default=1)
    # The admin's TLS settings (deploy/kafka/init.sh): the stand-in listens in plain text.
    parser.add_argument("--command-config")
    args = parser.parse_args(argv)
    try:
        admin = KafkaAdminClient(bootstrap_servers=args.bootstrap_server, request_timeout_ms=10_000)
    except KafkaError as exc:
        print(f"cannot reach {args.bootstrap_server}: {exc}", file=sys.stderr)
        return 1
    try:
        if args.command == "api-versions":
            return 0
        if not (args.create and args.topic):
            parser.error("only --create --topic T is supported")
        if args.topic in admin.list_topics():
            if args.if_not_exists:
                return 0
            print(f"Topic '{args.topic}' already exists.", file=sys.stderr)
            return 1
        topic = NewTopic(args.topic, args.partitions, args.replication_factor)
        try:
            admin.create_topics([topic])
            print(f"Created topic {args.topic}.")
        except TopicAlreadyExistsError:
            if not args.if_not_exists:
                raise
        return 0
    finally:
        admin.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
