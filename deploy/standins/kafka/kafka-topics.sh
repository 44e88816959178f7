#!/bin/sh
exec /opt/kafka-standin/bin/python /opt/kafka-standin/kafka_tool.py topics "$@"
