"""The gap check never stops a run: a broker it cannot reach leaves every partition to read."""

from __future__ import annotations

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaTimeoutError

from ingest.gaps import GapCheck


def test_an_unreachable_broker_finishes_no_partition_and_is_asked_again() -> None:
    made: list[int] = []

    def unreachable() -> KafkaConsumer:
        made.append(1)
        raise KafkaTimeoutError("Unable to bootstrap")

    gaps = GapCheck(unreachable)
    left = {TopicPartition("order.created", 0): (5, 7)}
    assert gaps.only_gaps(left) == set()
    assert gaps.only_gaps(left) == set()
    assert len(made) == 2  # a consumer that failed is not kept
    assert gaps.only_gaps({}) == set() and len(made) == 2  # nothing to ask: no consumer
