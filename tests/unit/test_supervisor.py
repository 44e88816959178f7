"""The supervisor's decisions, against a stack that only pretends to run processes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from stack.processes import StackError
from stack.supervisor import RestartBudgetSpent, Supervisor


class FakeStack:
    """Records what the supervisor asks; ``dead`` is what status would show as died."""

    def __init__(self) -> None:
        self.dead: list[str] = []
        self.ups: list[dict[str, bool]] = []
        self.started: list[str] = []
        self.stopped: list[str] = []
        self.cleared: list[str] = []  # parts whose orphans were cleared, in order
        self.logs = Path("logs")

    def died(self) -> list[str]:
        return list(self.dead)

    def clear_remains(self, part: str) -> None:
        assert part in self.dead, f"{part} cleared while alive"
        self.cleared.append(part)

    def up(self, **parts: bool) -> dict[str, str]:
        self.ups.append(parts)
        self.started, self.dead = list(self.dead), []
        return {}

    def stop_started(self) -> list[str]:
        self.stopped, self.started = list(self.started), []
        return self.stopped


def supervisor(stack: FakeStack, now: list[float], **kwargs: Any) -> Supervisor:
    return Supervisor(
        stack,  # type: ignore[arg-type]
        services=True,
        airflow=False,
        clock=lambda: now[0],
        **kwargs,
    )


def test_nothing_died_nothing_restarted() -> None:
    stack = FakeStack()
    assert supervisor(stack, [0.0]).check() == []
    assert stack.ups == []


def test_a_part_that_died_is_started_again_with_the_same_parts() -> None:
    stack = FakeStack()
    sup = supervisor(stack, [0.0])
    stack.dead = ["kafka", "orders"]
    assert sup.check() == ["kafka", "orders"]
    assert stack.cleared == ["kafka", "orders"]  # each dead part's orphans, before the restart
    assert stack.ups == [
        {"services": True, "airflow": False, "gateway": False, "prometheus": False}
    ]
    assert sup.stop() == ["kafka", "orders"]  # what it restarted is its own to stop


def test_a_crash_loop_stops_the_restarts_with_the_part_named() -> None:
    stack = FakeStack()
    now = [0.0]
    sup = supervisor(stack, now, max_restarts=2, window=60)
    for t in (0.0, 10.0):
        now[0] = t
        stack.dead = ["orders"]
        assert sup.check() == ["orders"]
    now[0] = 20.0
    stack.dead = ["orders"]
    with pytest.raises(StackError, match="orders died 3 times within 60s"):
        sup.check()
    assert len(stack.ups) == 2


def test_old_restarts_leave_the_budget() -> None:
    stack = FakeStack()
    now = [0.0]
    sup = supervisor(stack, now, max_restarts=1, window=60)
    stack.dead = ["orders"]
    sup.check()
    now[0] = 61.0
    stack.dead = ["orders"]
    assert sup.check() == ["orders"]


def test_a_gateway_that_died_comes_back_with_the_parts_first_asked_for() -> None:
    stack = FakeStack()
    sup = supervisor(stack, [0.0], gateway=True, prometheus=True)
    stack.dead = ["gateway"]
    assert sup.check() == ["gateway"]
    assert stack.ups == [{"services": True, "airflow": False, "gateway": True, "prometheus": True}]


class FailingStack(FakeStack):
    """A part stays dead and every restart fails, as a port still held would make it."""

    def up(self, **parts: bool) -> dict[str, str]:
        self.ups.append(parts)
        raise StackError("postgres: port 5432 is taken")


def test_a_failed_restart_is_tried_again_until_the_budget_is_spent() -> None:
    stack = FailingStack()
    stack.dead = ["postgres"]
    sup = supervisor(stack, [0.0], max_restarts=3, window=60)
    failures: list[StackError] = []
    with pytest.raises(RestartBudgetSpent, match="postgres died 4 times within 60s"):
        sup.run(0, on_restart=lambda parts: None, on_failed_restart=failures.append)
    assert len(failures) == 3
    assert len(stack.ups) == 3
