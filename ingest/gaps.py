"""Whether what is left of a partition before its end holds any record: kafka-python's answer.

Not every offset holds a record a client hands on: transaction markers, and records removed
by compaction, leave offsets with none. The end of a run (the high watermark seen at start)
can so lie past the partition's last record, and the reader (librdkafka, ``ingest.reader``)
then never delivers a message that says the end is reached. confluent-kafka reports a
partition's end only as an error whose code it names with a leading underscore, and
documents ``Consumer.position`` as the last consumed message + 1, which says nothing of the
offsets after it; the project reads no underscore name of a library. kafka-python documents
``KafkaConsumer.position`` as the offset of the next record it will fetch, which moves over
such offsets: when the reader has nothing more for a partition, this asks kafka-python.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

log = logging.getLogger(__name__)


class GapCheck:
    """Which partitions hold no record in [offset, end): each asked from its offset at once.

    The kafka-python consumer is made on first use (most runs end on a record and never ask)
    and kept for the run.
    """

    def __init__(self, make_consumer: Callable[[], KafkaConsumer], timeout_s: float = 5.0):
        self.make_consumer, self.timeout_s = make_consumer, timeout_s
        self.consumer: KafkaConsumer | None = None

    def only_gaps(self, left: dict[TopicPartition, tuple[int, int]]) -> set[TopicPartition]:
        """The partitions of ``left`` (partition: (offset, end)) with no record from offset to
        end. A partition not answered within the timeout, or while the broker cannot be
        reached, counts as holding one: the reader goes on, and the run's deadline bounds the
        wait."""
        if not left:
            return set()
        try:
            return self._only_gaps(left)
        except KafkaError as exc:
            log.warning("Kafka: could not look for records before the end (%s); retrying", exc)
            self.close()  # made again on the next call
            return set()

    def _only_gaps(self, left: dict[TopicPartition, tuple[int, int]]) -> set[TopicPartition]:
        if self.consumer is None:
            self.consumer = self.make_consumer()
        consumer = self.consumer
        consumer.assign(list(left))
        consumer.resume(*left)
        for tp, (offset, _) in left.items():
            consumer.seek(tp, offset)
        empty: set[TopicPartition] = set()
        undecided = set(left)
        deadline = time.monotonic() + self.timeout_s
        while undecided and time.monotonic() < deadline:
            polled = consumer.poll(timeout_ms=100, max_records=len(left))
            for tp in list(undecided):
                end = left[tp][1]
                if any(record.offset < end for record in polled.get(tp, ())):
                    undecided.discard(tp)  # a record is left: the reader will hand it on
                elif consumer.position(tp) >= end:
                    undecided.discard(tp)  # fetched to the end and no record on the way
                    empty.add(tp)
                else:
                    continue
                consumer.pause(tp)
        return empty

    def close(self) -> None:
        if self.consumer is not None:
            consumer, self.consumer = self.consumer, None
            consumer.close()
