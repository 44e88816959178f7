"""What an ingest run did: per topic rows written, dead letters and lag left."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class TopicReport:
    rows_written: int = 0
    dead_letters: int = 0
    lag_left: int = 0


@dataclass
class IngestReport:
    topics: dict[str, TopicReport] = field(default_factory=dict)
    resets: list[str] = field(default_factory=list)
    batches: int = 0
    messages: int = 0
    seconds: float = 0.0
    workers: int = 1
    partition_lag: dict[tuple[str, int], int] = field(default_factory=dict)
    batch_seconds: list[float] = field(default_factory=list)

    def topic(self, name: str) -> TopicReport:
        return self.topics.setdefault(name, TopicReport())

    def merge(self, other: IngestReport) -> None:
        """Add a worker's report to this one."""
        for name, t in other.topics.items():
            mine = self.topic(name)
            mine.rows_written += t.rows_written
            mine.dead_letters += t.dead_letters
            mine.lag_left += t.lag_left
        self.batches += other.batches
        self.messages += other.messages
        self.partition_lag.update(other.partition_lag)
        self.batch_seconds += other.batch_seconds
