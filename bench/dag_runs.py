"""What Airflow did during a benchmark, read from its metadata database: runs and task times."""

from __future__ import annotations

import statistics
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise

from config.settings import Settings
from database import connections
from database.names import AIRFLOW_DATABASE

PIPELINE = "cqrs_warehouse_pipeline"
ACTIVE = ("queued", "running")


def run_states(settings: Settings, since: datetime | None = None) -> Counter[str]:
    """How many pipeline runs are in each state (created at or after ``since``)."""
    with connections.connect(settings, AIRFLOW_DATABASE) as conn:
        rows = conn.execute(
            "select state, count(*) from dag_run where dag_id = %s"
            " and (%s::timestamptz is null or queued_at >= %s::timestamptz) group by state",
            (PIPELINE, since, since),
        ).fetchall()
    return Counter({str(state): int(n) for state, n in rows})


def busy_tasks(settings: Settings) -> int:
    """Pipeline tasks queued or running. A paused DAG's run starts no more of its tasks (and
    never ends): once this is 0 nothing of the DAG runs."""
    with connections.connect(settings, AIRFLOW_DATABASE) as conn:
        row = conn.execute(
            "select count(*) from task_instance where dag_id = %s"
            " and state in ('queued', 'running')",
            (PIPELINE,),
        ).fetchone()
    return int(row[0]) if row else 0


def publishing_runs(settings: Settings, since: datetime) -> int:
    """Runs since ``since`` whose publish task succeeded: those that brought something new."""
    with connections.connect(settings, AIRFLOW_DATABASE) as conn:
        row = conn.execute(
            "select count(*) from task_instance as ti join dag_run as r using (dag_id, run_id)"
            " where ti.dag_id = %s and ti.task_id = 'publish' and ti.state = 'success'"
            " and r.queued_at >= %s",
            (PIPELINE, since),
        ).fetchone()
    return int(row[0]) if row else 0


@dataclass
class RunWatch:
    """Samples the active runs every second: the most queued and running at any one time."""

    settings: Settings
    most: Counter[str] = field(default_factory=Counter)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._sample, name="run-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _sample(self) -> None:
        while not self._stop.wait(1.0):
            states = run_states(self.settings)
            for state in ACTIVE:
                self.most[state] = max(self.most[state], states[state])


def where_time_goes(settings: Settings, since: datetime) -> list[str]:
    """Per task of the runs that published: median wait in the queue and median duration;
    and the run as a whole (queued to end), and the gap between one run's end and the next's
    start."""
    with connections.connect(settings, AIRFLOW_DATABASE) as conn:
        runs = conn.execute(
            "select r.run_id, r.start_date, r.end_date, r.queued_at from dag_run as r"
            " where r.dag_id = %s and r.queued_at >= %s and r.end_date is not null"
            " order by r.start_date",
            (PIPELINE, since),
        ).fetchall()
        tasks = conn.execute(
            "select ti.task_id, extract(epoch from ti.start_date - ti.queued_dttm),"
            " extract(epoch from ti.end_date - ti.start_date) from task_instance as ti"
            " where ti.dag_id = %s and ti.state = 'success' and ti.run_id in ("
            "  select run_id from task_instance where dag_id = %s and task_id = 'publish'"
            "  and state = 'success' and start_date >= %s)",
            (PIPELINE, PIPELINE, since),
        ).fetchall()
    waits: dict[str, list[float]] = {}
    runs_for: dict[str, list[float]] = {}
    for task_id, waited, ran in tasks:
        if waited is not None and ran is not None:
            waits.setdefault(task_id, []).append(float(waited))
            runs_for.setdefault(task_id, []).append(float(ran))
    lines = [
        f"  {task_id}: queued {statistics.median(waits[task_id]):.1f} s,"
        f" ran {statistics.median(ran):.1f} s (median of {len(ran)})"
        for task_id, ran in sorted(runs_for.items(), key=lambda kv: -statistics.median(kv[1]))
        # the watchers (and ephemeral models' placeholders): after the producer, off the path
        if not (task_id.startswith("dbt_build.") and task_id.endswith("_run"))
    ]
    with connections.connect(settings, AIRFLOW_DATABASE) as conn:
        paths = [
            float(seconds)
            for (seconds,) in conn.execute(
                "select extract(epoch from p.end_date - i.end_date) from task_instance as p"
                " join task_instance as i using (dag_id, run_id) where p.dag_id = %s"
                " and p.task_id = 'publish' and p.state = 'success' and i.task_id = 'ingest'"
                " and p.start_date >= %s",
                (PIPELINE, since),
            ).fetchall()
        ]
    lines += _tail(settings, since)
    if paths:
        lines.append(
            f"  from ingest's end to publish's end: median {statistics.median(paths):.1f} s,"
            f" max {max(paths):.1f} s ({len(paths)} runs)"
        )
    gaps = [(nxt[1] - prev[2]).total_seconds() for prev, nxt in pairwise(runs)]
    if gaps:
        lines.append(
            f"  gap from one run's end to the next's start: {statistics.median(gaps):.1f} s"
        )
    return lines


def _tail(settings: Settings, since: datetime) -> list[str]:
    """The run's tail: from publish's end to the run's end, which the next run waits for."""
    with connections.connect(settings, AIRFLOW_DATABASE) as conn:
        rows = conn.execute(
            "select extract(epoch from r.end_date - p.end_date) from task_instance as p"
            " join dag_run as r using (dag_id, run_id)"
            " where p.dag_id = %s and p.task_id = 'publish' and p.state = 'success'"
            " and p.start_date >= %s and r.end_date is not null",
            (PIPELINE, since),
        ).fetchall()
    tails = [float(tail) for (tail,) in rows if tail is not None]
    if not tails:
        return []
    return [f"  from publish's end to the run's end: median {statistics.median(tails):.1f} s"]


def run_timeline(settings: Settings, since: datetime) -> list[str]:
    """One line per run since ``since`` that has started: when, its tasks' durations, its
    length (nan while it runs)."""
    with connections.connect(settings, AIRFLOW_DATABASE) as conn:
        rows = conn.execute(
            "select r.run_id, r.start_date, r.end_date, ti.task_id, ti.state,"
            " extract(epoch from ti.end_date - ti.start_date)"
            " from dag_run as r join task_instance as ti using (dag_id, run_id)"
            " where r.dag_id = %s and r.queued_at >= %s and r.start_date is not null"
            " order by r.start_date, ti.start_date",
            (PIPELINE, since),
        ).fetchall()
    runs: dict[str, list[str]] = {}
    heads: dict[str, str] = {}
    for run_id, start, end, task_id, state, ran in rows:
        length = (end - start).total_seconds() if end and start else float("nan")
        heads[run_id] = f"  run {start:%H:%M:%S} {length:5.1f} s:"
        if ran is not None:
            runs.setdefault(run_id, []).append(f"{task_id}={float(ran):.1f}({state})")
    return [f"{heads[r]} {' '.join(tasks)}" for r, tasks in runs.items()]
