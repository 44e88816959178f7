"""Freshness: from a command's answer to its row in the read API, with Airflow running the DAG.

Starts the whole stack as ``make up`` does (services and Airflow; ``@continuous`` pipeline)
on free ports in a temp state dir. After a warm-up (the first run builds every table), sends
``--rate`` commands a second (orders, invoices, stock operations, a little poison) for
``--duration`` seconds and follows each accepted command through the read API until its
row is in an answer's body, as a reader sees it (bench/visibility.py). Then pauses the DAG,
sends the number of commands one run took on average, and times one direct ``cqrsw
pipeline`` pass (ingest, dbt build, gate, publish) over them. Last line::

    ratio=<p95 / direct pass> freshness_p50_s=.. freshness_p95_s=.. direct_pass_s=.. runs=..

With ``--burst N``, sends N commands as fast as the services take them instead, and counts
the pipeline runs queued and running during and after the burst: one at a time, never a
pile. Its last line: ``burst=N max_running=... max_queued=... runs=... drained_s=...``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from typing import Any

from bench.dag_runs import (
    PIPELINE,
    RunWatch,
    busy_tasks,
    publishing_runs,
    run_states,
    run_timeline,
    where_time_goes,
)
from bench.visibility import Answers, Visibility
from config.settings import Settings
from loadtest.loadgen import LoadGenerator
from loadtest.traffic import Traffic
from stack.airflow import run_airflow
from stack.lifecycle import Stack
from tests.support.faults import wait_for_outboxes
from tests.support.throwaway_stack import free_port, throwaway_stack

PORTS = ("orders", "invoices", "stock", "read_api", "airflow")
CQRSW = os.path.join(os.path.dirname(sys.executable), "cqrsw")


def send(settings: Settings, traffic: Traffic, watcher: Visibility, rate: float, count: int) -> int:
    """``count`` commands at ``rate`` a second; each answer goes to ``watcher``."""
    answers = Answers(watcher)
    load = LoadGenerator(settings, traffic, answers, concurrency=8)
    load.run(rate, count / rate, lambda _: None)
    return answers.commands


def quantile(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def direct_pass(settings: Settings, traffic: Traffic, watcher: Visibility, count: int) -> float:
    """Pause the DAG, let its tasks end, send ``count`` commands; time one ``cqrsw pipeline``
    from its start to the end of its publish."""
    run_airflow(settings, "dags", "pause", PIPELINE)
    deadline = time.monotonic() + 240
    while busy_tasks(settings) and time.monotonic() < deadline:
        time.sleep(1)
    send(settings, traffic, watcher, 10.0, count)
    wait_for_outboxes(settings)
    env = {**os.environ, **settings.as_env(), "PYTHONUNBUFFERED": "1"}
    began = time.monotonic()
    published = None  # the pass goes on after publish (Data Docs): time it to publish's line
    with subprocess.Popen(
        [CQRSW, "pipeline", "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as done:
        assert done.stdout is not None
        output = []
        for line in done.stdout:
            output.append(line)
            if published is None and line.startswith("publish:"):
                published = time.monotonic() - began
    if done.returncode != 0 or published is None:
        raise SystemExit(f"cqrsw pipeline run failed:\n{''.join(output)[-3000:]}")
    return published


def steady(settings: Settings, rate: float, duration: float, seed: int) -> dict[str, Any]:
    traffic = Traffic(seed)
    watcher = Visibility(settings)
    watcher.start()
    send(settings, traffic, watcher, 2.0, 10)  # the first run creates every table: not measured
    if not watcher.wait_drained(600):
        raise SystemExit("warm-up: the pipeline did not publish the first commands in 10 min")
    watcher.seconds.clear()
    watcher.by_kind.clear()
    watcher.shown.clear()
    began = datetime.now(UTC)
    commands = send(settings, traffic, watcher, rate, round(rate * duration))
    drained = watcher.wait_drained(300)
    runs = publishing_runs(settings, began)
    seconds = list(watcher.seconds)
    breakdown = where_time_goes(settings, began)
    per_run = max(10, round(commands / max(runs, 1)))
    print(  # before the direct pass: what Airflow did stands even if that pass fails
        f"freshness over {len(seconds)} commands: p50 {quantile(seconds, 50):.1f} s,"
        f" p95 {quantile(seconds, 95):.1f} s, max {max(seconds, default=float('nan')):.1f} s;"
        f" {runs} publishing runs",
        *breakdown,
        sep="\n",
        flush=True,
    )
    for kind, waits in sorted(watcher.by_kind.items()):
        print(
            f"  {kind}: {len(waits)} commands, p50 {quantile(waits, 50):.1f} s,"
            f" p95 {quantile(waits, 95):.1f} s, max {max(waits):.1f} s"
        )
    print(*run_timeline(settings, began), sep="\n")
    for at, n, worst in watcher.shown:
        print(f"  publication seen {at:%H:%M:%S}: {n} commands shown, longest wait {worst:.1f} s")
    direct = direct_pass(settings, traffic, watcher, per_run)
    watcher.stop()
    return {
        "commands": commands,
        "followed": len(seconds),
        "left": len(watcher.pending),
        "unfollowed": watcher.unfollowed,
        "drained": drained,
        "runs": runs,
        "per_run": per_run,
        "p50": quantile(seconds, 50),
        "p95": quantile(seconds, 95),
        "max": max(seconds, default=float("nan")),
        "direct": direct,
        "breakdown": breakdown,
    }


def burst(settings: Settings, count: int, seed: int) -> dict[str, Any]:
    watcher = Visibility(settings, sample_every=50)
    watcher.start()
    runs = RunWatch(settings)
    runs.start()
    began, clock = datetime.now(UTC), time.monotonic()
    sent = send(settings, Traffic(seed), watcher, 1000.0, count)
    sent_s = time.monotonic() - clock
    drained = watcher.wait_drained(900)
    drained_s = time.monotonic() - clock
    time.sleep(5)
    runs.stop()
    watcher.stop()
    return {
        "sent": sent,
        "sent_s": sent_s,
        "drained": drained,
        "drained_s": drained_s,
        "most": runs.most,
        "runs": publishing_runs(settings, began),
        "all_runs": sum(run_states(settings, began).values()),
        "p95": quantile(watcher.seconds, 95),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rate", type=float, default=5.0, help="commands a second")
    parser.add_argument("--duration", type=float, default=180.0, help="seconds of traffic")
    parser.add_argument("--burst", type=int, default=0, help="send this many commands at once")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.rate <= 0 or args.duration <= 0 or args.burst < 0:
        parser.error("--rate and --duration must be positive, --burst not negative")
    ports: dict[str, Any] = {f"{name}_port": free_port() for name in PORTS}
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    secret = "freshness-bench-0123456789abcdef0123"
    with throwaway_stack(relay_enabled=True, jwt_secret=secret, **ports) as settings:
        Stack(settings).up(services=True, airflow=True)
        if args.burst:
            b = burst(settings, args.burst, args.seed)
        else:
            r = steady(settings, args.rate, args.duration, args.seed)
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.burst:
        print(
            f"burst: {b['sent']} commands sent in {b['sent_s']:.0f} s; every sampled one served"
            f" after {b['drained_s']:.0f} s ({'drained' if b['drained'] else 'NOT drained'});"
            f" sampled freshness p95 {b['p95']:.1f} s; {b['all_runs']} runs in all"
        )
        print(
            f"burst={b['sent']} max_running={b['most']['running']} max_queued={b['most']['queued']}"
            f" runs={b['runs']} drained_s={b['drained_s']:.1f}"
        )
        raise SystemExit(0 if b["drained"] and b["most"]["running"] <= 1 else 1)
    print(
        f"{r['commands']} commands at {args.rate:g}/s for {args.duration:g} s; {r['followed']}"
        f" followed to their rows in the read API, {r['left']} never served,"
        f" {r['unfollowed']} invoices issued before their order not followed; max {r['max']:.1f} s;"
        f" direct pass over {r['per_run']} commands (one run's worth)"
    )
    print("where a publishing run's time goes (Airflow metadata):")
    for line in r["breakdown"]:
        print(line)
    print(
        f"ratio={r['p95'] / r['direct']:.2f} freshness_p50_s={r['p50']:.1f}"
        f" freshness_p95_s={r['p95']:.1f} direct_pass_s={r['direct']:.1f} runs={r['runs']}"
    )
    raise SystemExit(0 if r["drained"] else 1)


if __name__ == "__main__":
    main()
