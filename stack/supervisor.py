"""Keep a stack up: notice a part that died and start it again, within a restart budget.

Why not supervisord or honcho: both own the processes they run (supervisord as a daemon
with its own config file and socket, honcho as the foreground parent of a Procfile), so
neither fits parts that ``cqrsw stack up`` starts detached, on ports chosen per state
dir, with a restart that has side effects of its own (a broker restarted empty makes
every outbox re-publish; Airflow needs its metadata database migrated first). This loop
reuses exactly the start path of ``stack up`` and the pid files it writes.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from stack.lifecycle import Stack
from stack.processes import StackError


class RestartBudgetSpent(StackError):
    """A part died more often than the budget allows: the supervisor gives up on it."""


class Supervisor:
    """Restart what died, at most ``max_restarts`` times per part in ``window`` seconds."""

    def __init__(
        self,
        stack: Stack,
        *,
        services: bool,
        airflow: bool,
        gateway: bool = False,
        prometheus: bool = False,
        max_restarts: int = 5,
        window: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.stack = stack
        self.services = services
        self.airflow = airflow
        self.gateway = gateway
        self.prometheus = prometheus
        self.max_restarts = max_restarts
        self.window = window
        self.clock = clock
        self.started: list[str] = []  # everything this supervisor's calls started
        self._restarts: dict[str, deque[float]] = {}

    def up(self) -> dict[str, str]:
        where = self.stack.up(
            services=self.services,
            airflow=self.airflow,
            gateway=self.gateway,
            prometheus=self.prometheus,
        )
        self.started.extend(self.stack.started)
        return where

    def check(self) -> list[str]:
        """One round: the parts that had died and were started again (empty if none died)."""
        died = self.stack.died()
        if not died:
            return []
        now = self.clock()
        for part in died:
            recent = self._restarts.setdefault(part, deque())
            while recent and now - recent[0] > self.window:
                recent.popleft()
            if len(recent) >= self.max_restarts:
                raise RestartBudgetSpent(
                    f"{part} died {len(recent) + 1} times within {self.window:.0f}s; not"
                    f" restarting it again (see {self.stack.logs / part}.log)"
                )
            recent.append(now)
            self.stack.clear_remains(part)  # orphans of the dead one, before its successor
        # The same parts as the first `up`: a gateway or Prometheus that died comes back too.
        self.stack.up(
            services=self.services,
            airflow=self.airflow,
            gateway=self.gateway,
            prometheus=self.prometheus,
        )
        self.started.extend(p for p in self.stack.started if p not in self.started)
        return died

    def run(
        self,
        interval: float,
        on_restart: Callable[[list[str]], None],
        on_failed_restart: Callable[[StackError], None] = lambda error: None,
    ) -> None:
        """Check every ``interval`` seconds until interrupted (Ctrl-C) or out of budget.

        A restart that fails (PostgreSQL still shutting down its old backends, a port not yet
        free) is tried again on the next round; each try counts against the part's budget, so
        a part that cannot come back ends the loop with the budget's error.
        """
        while True:
            time.sleep(interval)
            try:
                restarted = self.check()
            except RestartBudgetSpent:
                raise
            except StackError as error:
                on_failed_restart(error)
                continue
            if restarted:
                on_restart(restarted)

    def stop(self) -> list[str]:
        """Stop everything this supervisor started."""
        self.stack.started = list(self.started)
        self.started = []
        return self.stack.stop_started()
