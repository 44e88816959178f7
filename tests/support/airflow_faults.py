"""Faults under the continuous Airflow pipeline, as `make up` runs it, with a supervisor.

A stack on free ports with the services and Airflow's scheduler, dag-processor, triggerer
and api-server; the pipeline DAG runs continuously; a supervisor (stack.supervisor) looks
every second and starts again what died; the load generator sends seeded traffic. Each
fault is injected while that goes on; afterwards the pipeline must publish again by itself
within ``RESUME_BOUND_S`` of the moment the supervisor had everything up again, and at the
end every command's outcome is accounted for and every view equals the independent record
(loadtest.invariants).

The pause of a fault: from the fault until the first publication of the serving views that
ended after the stack was whole again (the supervisor's restart, or SIGCONT). Publications
continue while the load runs, so that is when the pipeline visibly resumed.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from config.settings import Settings
from database import connections
from database.names import AIRFLOW_DATABASE, WAREHOUSE_DATABASE
from loadtest.invariants import Report, check
from loadtest.loadgen import LoadGenerator, read_record
from loadtest.traffic import Traffic
from stack.http_services import HTTP_SERVICES
from stack.lifecycle import Stack
from stack.processes import StackError
from stack.supervisor import Supervisor
from tests.support.dag_runs import PIPELINE
from tests.support.faults import raw_batches, wait_for_outboxes
from tests.support.throwaway_stack import free_port, throwaway_stack

PORTS = ("orders", "invoices", "stock", "read_api", "airflow")
# From the moment the stack is whole again to the next publication. A run killed mid-way is
# failed by Airflow and the next continuous run starts; a task whose scheduler died is reset
# by the next scheduler's orphan check (every 30 s, stack.airflow.RECOVERY); a task cut off
# from PostgreSQL or the broker is retried after 15 s (pipeline.tasks.retries). On this
# shared 2-core machine a pipeline run takes 20-60 s under load.
RESUME_BOUND_S = 240.0
INJECT_WITHIN_S = 180.0  # how long a fault may wait for its moment (a task running)
STOPPED_S = 15.0  # SIGSTOP: longer than the load generator's 10 s and a pool wait (5 s)
SUPERVISE_EVERY_S = 1.0
INGEST_PATIENCE_S = 60.0


@dataclass
class Injected:
    """One fault: what it was, when, when the stack was whole again, when views were published."""

    name: str
    at: datetime
    whole: datetime | None = None
    published: datetime | None = None
    detail: str = ""

    @property
    def pause_s(self) -> float | None:
        return None if self.published is None else (self.published - self.at).total_seconds()


@dataclass
class Watch:
    """The stack under test, its supervisor (in a thread) and what the faults did."""

    settings: Settings
    stack: Stack
    supervisor: Supervisor
    restarts: list[tuple[datetime, list[str]]] = field(default_factory=list)
    failed_restarts: list[str] = field(default_factory=list)
    injected: list[Injected] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)
    struck: datetime | None = None  # when the last fault's signal was sent

    def strike(self, proc: psutil.Process, sig: signal.Signals = signal.SIGKILL) -> None:
        self.struck = datetime.now(UTC)
        proc.send_signal(sig)

    def supervise(self) -> None:
        while not self.stopping.wait(SUPERVISE_EVERY_S):
            try:
                restarted = self.supervisor.check()
            except StackError as error:  # tried again next round, as Supervisor.run does
                self.failed_restarts.append(str(error).splitlines()[0])
                continue
            if restarted:
                self.restarts.append((datetime.now(UTC), restarted))

    def broker_lost(self) -> str | None:
        """When the memory-only broker last came back empty (for the poison accounting)."""
        found = [at for at, parts in self.restarts if "kafka" in parts]
        return found[-1].isoformat() if found else None


# -- what the faults look at ----------------------------------------------------------------
def running_task(settings: Settings, task_id: str) -> int | None:
    """The pid of the pipeline task ``task_id`` while it runs (Airflow records it)."""
    with connections.connect(settings, AIRFLOW_DATABASE) as conn:
        row = conn.execute(
            "select pid from task_instance where dag_id = %s and task_id = %s"
            " and state = 'running' and pid is not null",
            (PIPELINE, task_id),
        ).fetchone()
    return None if row is None else int(row[0])


def ours(stack: Stack, pid: int) -> psutil.Process | None:
    """The process ``pid`` if this stack's scheduler started it: the process or one of its
    parents is in the scheduler's process group. (Airflow's task processes rename
    themselves, which clears the environment that holds the stack's mark.)"""
    record = stack.pid_files()["airflow-scheduler"].recorded()
    try:
        proc = psutil.Process(pid)
        if record is not None and any(
            os.getpgid(p.pid) == record[0] for p in (proc, *proc.parents())
        ):
            return proc
    except (psutil.Error, OSError):
        pass
    return None


def first_publication_after(settings: Settings, since: datetime) -> datetime | None:
    try:
        with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
            row = conn.execute(
                "select min(published_at) from ops.view_publications where published_at > %s",
                (since,),
            ).fetchone()
    except Exception:  # PostgreSQL itself may be the fault: not yet
        return None
    return None if row is None else row[0]


def _until(what: str, found: Callable[[], Any], within: float, every: float = 0.05) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            value = found()
        except Exception:  # PostgreSQL restarting under a previous fault: look again
            value = None
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"{what}: not within {within:.0f} s")


def _kill_task(watch: Watch, task_id: str, when: Callable[[int], bool] = lambda _: True) -> str:
    settings = watch.settings

    def victim() -> psutil.Process | None:
        pid = running_task(settings, task_id)
        proc = None if pid is None else ours(watch.stack, pid)
        return proc if proc is not None and when(proc.pid) else None

    proc = _until(f"a running {task_id} task", victim, INJECT_WITHIN_S)
    watch.strike(proc)
    return f"{task_id} pid {proc.pid}"


def _kill_part(watch: Watch, part: str) -> str:
    proc = watch.stack.pid_files()[part].process()
    if proc is None and part == "postgres":
        record = watch.stack.pid_files()[part].recorded()
        proc = None if record is None else psutil.Process(record[0])
    assert proc is not None, f"{part} is not running"
    watch.strike(proc)
    return f"{part} pid {proc.pid}"


# -- the faults -------------------------------------------------------------------------------
def kill_scheduler(watch: Watch) -> str:
    """SIGKILL the scheduler while a run is going on (its workers and tasks are orphaned)."""
    _until("a running pipeline task", lambda: running_task(watch.settings, "ingest"), 120)
    return _kill_part(watch, "airflow-scheduler")


def kill_triggerer(watch: Watch) -> str:
    return _kill_part(watch, "airflow-triggerer")


def kill_task(watch: Watch) -> str:
    """SIGKILL the process of a running dbt build."""
    return _kill_task(watch, "dbt_build")


def kill_ingest_mid_batch(watch: Watch) -> str:
    """SIGKILL the ingest task between its first and last write of a batch run."""
    settings = watch.settings
    seen: dict[int, int] = {}
    began = time.monotonic()

    def writing(pid: int) -> bool:
        """This ingest task drew a batch id since it was first seen running; or, after
        ``INGEST_PATIENCE_S`` (at 20 commands/s a run's ingest draws its one batch before it
        can be seen running), any running ingest."""
        now = raw_batches(settings)
        drew = now > seen.setdefault(pid, now)
        return drew or time.monotonic() - began > INGEST_PATIENCE_S

    return _kill_task(watch, "ingest", writing)


def kill_postgres_during_publish(watch: Watch) -> str:
    _until("a running publish", lambda: running_task(watch.settings, "publish"), INJECT_WITHIN_S)
    return _kill_part(watch, "postgres")


def kill_broker_during_ingest(watch: Watch) -> str:
    _until("a running ingest", lambda: running_task(watch.settings, "ingest"), INJECT_WITHIN_S)
    return _kill_part(watch, "kafka")


def stop_a_service(watch: Watch) -> str:
    """SIGSTOP the stock service (its API and its relay) past its clients' timeouts."""
    service = next(s for s in HTTP_SERVICES if s.name == "stock")
    proc = service.pid_file(watch.settings).process()
    assert proc is not None
    watch.strike(proc, signal.SIGSTOP)
    try:
        time.sleep(STOPPED_S)
    finally:
        proc.send_signal(signal.SIGCONT)
    return f"stock pid {proc.pid} stopped {STOPPED_S:.0f} s"


Fault = Callable[[Watch], str]
FAULTS: dict[str, Fault] = {
    "scheduler": kill_scheduler,
    "triggerer": kill_triggerer,
    "task": kill_task,
    "ingest": kill_ingest_mid_batch,
    "postgres": kill_postgres_during_publish,
    "broker": kill_broker_during_ingest,
    "sigstop": stop_a_service,
}


def inject(watch: Watch, name: str, *, wait: bool = True) -> Injected:
    """Inject one fault and wait (up to RESUME_BOUND_S) for the pipeline to publish again.

    ``wait=False``: return at once; ``under_load`` finds the next publication afterwards.
    """
    detail = FAULTS[name](watch)
    at = watch.struck or datetime.now(UTC)
    injected = Injected(name, at, detail=detail)
    watch.injected.append(injected)
    if not wait:
        return injected
    killed = datetime.now(UTC)
    # Whole again: the supervisor found nothing dead (a kill it has not seen yet shows "died").
    time.sleep(SUPERVISE_EVERY_S * 2)
    _until(f"{name}: the stack whole again", lambda: not watch.stack.died(), RESUME_BOUND_S, 1.0)
    injected.whole = max(datetime.now(UTC), killed)
    injected.published = _until(
        f"{name}: a publication after the stack was whole again",
        lambda: first_publication_after(watch.settings, injected.whole or at),
        RESUME_BOUND_S,
        1.0,
    )
    return injected


# -- the whole run -------------------------------------------------------------------------------
@contextmanager
def supervised_airflow_stack() -> Iterator[Watch]:
    """A stack with services and Airflow on free ports, kept up by a supervisor thread."""
    ports: dict[str, Any] = {f"{name}_port": free_port() for name in PORTS}
    with throwaway_stack(
        relay_enabled=True,
        relay_interval_s=0.2,
        jwt_secret="airflow-faults-secret-0123456789abcdef",
        **ports,
    ) as settings:
        stack = Stack(settings)
        supervisor = Supervisor(stack, services=True, airflow=True)
        supervisor.up()
        watch = Watch(settings, stack, supervisor)
        thread = threading.Thread(target=watch.supervise, daemon=True)
        thread.start()
        try:
            yield watch
        finally:
            watch.stopping.set()
            thread.join(60)
            supervisor.stop()


def caught_up(watch: Watch, records: list[dict[str, Any]], within: float) -> Report:
    """Until the served views agree with the record (the pipeline runs on by itself)."""
    wait_for_outboxes(watch.settings, timeout=within)
    deadline = time.monotonic() + within
    while True:
        report = check(watch.settings, records, strict=True, broker_lost=watch.broker_lost())
        if report.ok or time.monotonic() > deadline:
            return check(
                watch.settings,
                records,
                strict=True,
                broker_lost=watch.broker_lost(),
                reads=True,
            )
        time.sleep(10)


@dataclass
class Outcome:
    report: Report
    records: list[dict[str, Any]]
    injected: list[Injected]
    restarts: list[tuple[datetime, list[str]]]
    seconds: float


def under_load(
    watch: Watch,
    record: Path,
    faults: Callable[[Watch], None],
    *,
    rate: float,
    seed: int = 30,
    settle_s: float = 20.0,
    catch_up_s: float = 600.0,
) -> Outcome:
    """Load at ``rate`` while ``faults(watch)`` runs, then ``settle_s`` more; then the check."""
    began = time.monotonic()
    with record.open("w") as out:
        load = LoadGenerator(watch.settings, Traffic(seed=seed), out, concurrency=6)
        sender = threading.Thread(target=load.run, args=(rate, 86_400.0, lambda _: None))
        sender.start()
        try:
            faults(watch)
            time.sleep(settle_s)
        finally:
            load.stopping.set()
            sender.join(timeout=600)
        assert not sender.is_alive(), "the load generator did not finish"
    records = read_record(record)
    report = caught_up(watch, records, catch_up_s)
    for injected in watch.injected:  # the ones not waited for: the next publication after
        if injected.published is None:
            injected.published = first_publication_after(watch.settings, injected.at)
    return Outcome(report, records, watch.injected, watch.restarts, time.monotonic() - began)


def in_turn(names: list[str], between_s: float = 10.0) -> Callable[[Watch], None]:
    """Each fault after the pipeline resumed from the previous one."""

    def run(watch: Watch) -> None:
        for name in names:
            time.sleep(between_s)
            inject(watch, name)

    return run


def at_random(
    names: list[str], duration: float, seed: int, margin: float = 90.0
) -> Callable[[Watch], None]:
    """Each fault once, at seeded random times in [margin/2, duration - margin] seconds,
    without waiting for the pipeline to resume in between (a fault may strike while the
    pipeline still recovers from the previous one)."""
    chosen = sorted(random.Random(seed).uniform(margin / 2, duration - margin) for _ in names)
    order = random.Random(seed + 1).sample(names, len(names))

    def run(watch: Watch) -> None:
        start = time.monotonic()
        for due, name in zip(chosen, order, strict=True):
            time.sleep(max(0.0, start + due - time.monotonic()))
            inject(watch, name, wait=False)
        time.sleep(max(0.0, start + duration - time.monotonic()))

    return run


def describe(outcome: Outcome) -> list[str]:
    lines = [
        f"{i.at:%H:%M:%S} {i.name}: {i.detail}; pause {i.pause_s:.0f} s"
        + ("" if i.whole is None else f" (whole after {(i.whole - i.at).total_seconds():.0f} s)")
        for i in outcome.injected
        if i.pause_s is not None
    ]
    lines += [f"restarted at {at:%H:%M:%S}: {', '.join(parts)}" for at, parts in outcome.restarts]
    return lines + outcome.report.lines()
