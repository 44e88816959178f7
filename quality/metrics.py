"""Prometheus metrics of the quality gate, written as a textfile after each run.

The gate runs inside a batch task that exits right after; the file under
``<state_dir>/metrics`` outlives it and the pipeline exporter (``cqrsw metrics serve``)
serves it to Prometheus.
"""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge, write_to_textfile

# Before the gate ran in two parts (raw tables, marts) it wrote one file: a stale one would
# repeat its last outcome forever.
LEGACY_FILE = "gate.prom"


def metrics_file(gate: str) -> str:
    return f"gate-{gate}.prom"


def write_gate_metrics(
    directory: Path, gate: str, suites: dict[str, tuple[bool, int]], passed: bool, *, now: float
) -> Path:
    """``suites``: name -> (success, failed expectations), for the run of the gate (the
    checkpoint) named ``gate``. Returns the file written."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / LEGACY_FILE).unlink(missing_ok=True)
    path = directory / metrics_file(gate)
    write_to_textfile(str(path), gate_registry(gate, suites, passed, now=now))
    return path


def gate_registry(
    gate: str, suites: dict[str, tuple[bool, int]], passed: bool, *, now: float
) -> CollectorRegistry:
    registry = CollectorRegistry()
    success = Gauge(
        "cqrsw_gate_suite_success", "1 if the suite passed in the last gate run", ["suite"],
        registry=registry,
    )  # fmt: skip
    failed = Gauge(
        "cqrsw_gate_failed_expectations", "Expectations that failed in the last gate run",
        ["suite"], registry=registry,
    )  # fmt: skip
    last = Gauge(
        "cqrsw_gate_last_run_timestamp_seconds", "When the gate last ran", ["gate"],
        registry=registry,
    )  # fmt: skip
    outcome = Gauge(
        "cqrsw_gate_last_run_success", "1 if the last run of the gate passed", ["gate"],
        registry=registry,
    )  # fmt: skip
    for name, (ok, failures) in suites.items():
        success.labels(name).set(1 if ok else 0)
        failed.labels(name).set(failures)
    last.labels(gate).set(now)
    outcome.labels(gate).set(1 if passed else 0)
    return registry
