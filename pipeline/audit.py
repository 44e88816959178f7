"""The daily audit: every data test and every suite on every row, reconciliations included.

The pipeline's checks look at what is new (docs/adr/check-windows.md); what only a whole
history shows (an old row changed in place, a mart drifting from its log) is the audit's.
It never stops a publication: it reports, and alerts through the exporter
(``cqrsw_audit_last_run_success``, the ``AuditFailed`` rule).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client import CollectorRegistry, Gauge, write_to_textfile

from config.settings import Settings
from pipeline.dbt import DbtFailed, run_dbt

METRICS_FILE = "audit.prom"
# dbt unit tests check the models' SQL, not the data: `make test` runs them.
AUDIT_EXCLUDE = ("resource_type:unit_test",)
ALL_ROWS = json.dumps({"checks": "all"})  # dbt_project.yml: the tests' `where` is then true


class AuditFailed(RuntimeError):
    """A check failed on the whole history: a person has to look at it."""


@dataclass
class AuditReport:
    failures: dict[str, str] = field(default_factory=dict)  # check -> what failed

    @property
    def success(self) -> bool:
        return not self.failures


def run_audit(settings: Settings) -> AuditReport:
    """Run every check on every row; record the outcome as metrics; raise if any failed."""
    from quality.gate import DataQualityFailed, run_gate
    from quality.suites import AUDIT_PARTS

    report = AuditReport()
    try:
        run_dbt(settings, "test", "--exclude", *AUDIT_EXCLUDE, "--vars", ALL_ROWS, quiet=True)
    except DbtFailed as failed:
        report.failures["dbt test"] = str(failed)
    for part, suites in AUDIT_PARTS.items():
        try:
            run_gate(settings, suites(), f"audit_{part}", gate_metrics=False)
        except DataQualityFailed as failed:
            report.failures[f"gate {part}"] = str(failed)
    write_audit_metrics(settings.state_dir / "metrics", report, now=time.time())
    if not report.success:
        raise AuditFailed("the audit failed:\n" + "\n".join(report.failures.values()))
    return report


def write_audit_metrics(directory: Path, report: AuditReport, *, now: float) -> Path:
    """The outcome as a textfile the pipeline exporter serves (pipeline/exporter.py)."""
    registry = CollectorRegistry()
    success = Gauge(
        "cqrsw_audit_last_run_success", "1 if the last daily audit passed", registry=registry
    )
    last = Gauge(
        "cqrsw_audit_last_run_timestamp_seconds", "When the daily audit last ran",
        registry=registry,
    )  # fmt: skip
    failed = Gauge(
        "cqrsw_audit_failed_checks", "Checks (dbt test, gate parts) that failed in the last audit",
        registry=registry,
    )  # fmt: skip
    success.set(1 if report.success else 0)
    last.set(now)
    failed.set(len(report.failures))
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / METRICS_FILE
    write_to_textfile(str(path), registry)
    return path
