#!/bin/sh
echo "kafka-configs.sh: the Tansu stand-in has no SCRAM users; skipped: $*" | sed 's/password=[^]]*/password=.../' >&2
