"""A waiting pipeline run: ingests again until something comes or its wait is over."""

from __future__ import annotations

from typing import Any

from config.settings import Settings
from pipeline.arrivals import brought_something, ingest_when_new


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def ingests(*messages: int) -> Any:
    """An ingest that reads ``messages[i]`` messages on its i-th call (0 after the last)."""
    calls: list[int] = []

    def ingest(settings: Settings) -> dict[str, Any]:
        n = messages[len(calls)] if len(calls) < len(messages) else 0
        calls.append(n)
        return {"messages": n, "resets": [], "topics": {}}

    ingest.calls = calls  # type: ignore[attr-defined]
    return ingest


def test_returns_at_once_when_the_first_ingest_brings_events() -> None:
    time, ingest = FakeTime(), ingests(5)
    summary = ingest_when_new(
        Settings(), ingest, wait_s=60, poll_s=1, sleep=time.sleep, clock=time.clock
    )
    assert (summary["messages"], summary["polls"], time.slept) == (5, 1, [])


def test_polls_until_events_arrive() -> None:
    time, ingest = FakeTime(), ingests(0, 0, 0, 7)
    summary = ingest_when_new(
        Settings(), ingest, wait_s=60, poll_s=2, sleep=time.sleep, clock=time.clock
    )
    assert (summary["messages"], summary["polls"], time.slept) == (7, 4, [2, 2, 2])


def test_gives_up_empty_after_the_wait() -> None:
    time, ingest = FakeTime(), ingests()
    summary = ingest_when_new(
        Settings(), ingest, wait_s=10, poll_s=3, sleep=time.sleep, clock=time.clock
    )
    assert (summary["messages"], summary["polls"]) == (0, 4)  # at 0, 3, 6 and 9 s
    assert time.now <= 10


def test_no_wait_means_one_ingest() -> None:
    time, ingest = FakeTime(), ingests()
    summary = ingest_when_new(
        Settings(), ingest, wait_s=0, poll_s=1, sleep=time.sleep, clock=time.clock
    )
    assert (summary["polls"], time.slept) == (1, [])


def test_a_reset_partition_counts_as_something_new() -> None:
    assert brought_something({"messages": 0, "resets": ["order.created[0]: log lost"]})
    assert brought_something({"messages": 1, "resets": []})
    assert not brought_something({"messages": 0, "resets": []})
