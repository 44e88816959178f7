"""Run the suites as one Great Expectations checkpoint; a failed expectation raises.

A checkpoint reports ``success: False`` instead of raising, and a task that only logs that
would let bad views be published: ``run_gate`` turns it into ``DataQualityFailed``. A passing
gate leaves the Data Docs to ``quality.data_docs.build_data_docs``, run after publish.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from config.database_settings import DbRole
from config.settings import Settings
from database import connections
from database.names import WAREHOUSE_DATABASE
from quality import windows
from quality.data_docs import (
    URL_VARIABLE,
    build_data_docs,
    context_dir,
    data_docs_index,
    forget_old_runs,
    open_context,
)
from quality.metrics import write_gate_metrics

if TYPE_CHECKING:  # the suites import Great Expectations, which takes seconds to load
    from quality.suites import TableSuite

log = logging.getLogger(__name__)

DATASOURCE = "warehouse"


class DataQualityFailed(RuntimeError):
    """The data broke an expectation: retrying cannot help, a person has to look at it."""


@dataclass
class SuiteOutcome:
    success: bool
    evaluated: int
    failed: list[str] = field(default_factory=list)  # one line per failed expectation


@dataclass
class GateReport:
    success: bool
    suites: dict[str, SuiteOutcome]
    skipped: list[str]
    data_docs: Path | None

    def summary(self) -> str:
        lines = [
            f"{name}: {'ok' if o.success else 'FAILED'} ({o.evaluated} expectations)"
            for name, o in self.suites.items()
        ]
        for name, outcome in self.suites.items():
            lines += [f"  {name}: {failure}" for failure in outcome.failed]
        lines += [f"{name}: skipped, the table does not exist yet" for name in self.skipped]
        if self.data_docs is not None:
            lines.append(f"Data Docs: {self.data_docs}")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {
            "success": self.success,
            "suites": {
                name: {"success": o.success, "failed": o.failed} for name, o in self.suites.items()
            },
            "skipped": self.skipped,
            "data_docs": str(self.data_docs) if self.data_docs else None,
        }


def run_gate_parts(settings: Settings, parts: Sequence[str] | None = None) -> GateReport:
    """The named parts of the gate (``quality.suites.GATE_PARTS``; all of them by default), in
    order, each as the checkpoint ``<part>_gate``; raises at the first that fails. Returns one
    report of every suite that ran.

    Each part checks the rows since its last pass (quality/windows.py), and moves its window
    up only when it passes."""
    from quality.suites import GATE_PARTS

    unknown = [part for part in parts or () if part not in GATE_PARTS]
    if unknown:
        raise ValueError(f"no gate part {unknown}: the parts are {sorted(GATE_PARTS)}")
    reports = []
    for part in parts or list(GATE_PARTS):
        below = windows.bound_now(settings, part)
        checked = windows.checked_below(settings, windows.check_name(part))
        suites = GATE_PARTS[part](checked)
        reports.append(run_gate(settings, suites, checkpoint_name=f"{part}_gate"))
        windows.record_checked(settings, part, below)
    return GateReport(
        success=all(r.success for r in reports),
        suites={name: o for r in reports for name, o in r.suites.items()},
        skipped=[name for r in reports for name in r.skipped],
        data_docs=reports[-1].data_docs,
    )


def existing_tables(settings: Settings, suites: Sequence[TableSuite]) -> set[str]:
    with connections.connect(
        settings, WAREHOUSE_DATABASE, autocommit=True, role=DbRole.PUBLISHER
    ) as conn:
        rows = conn.execute(
            "select name from unnest(%s::text[]) as name where to_regclass(name) is not null",
            ([s.qualified_table for s in suites],),
        ).fetchall()
    return {name for (name,) in rows}


def run_gate(
    settings: Settings,
    suites: Sequence[TableSuite],
    checkpoint_name: str,
    *,
    gate_metrics: bool = True,
) -> GateReport:
    """Validate every table of ``suites`` that exists, as the checkpoint ``checkpoint_name``;
    raise ``DataQualityFailed`` if any expectation fails. ``gate_metrics``: write the gate's
    Prometheus metrics (the daily audit writes its own).

    A suite whose table does not exist yet is skipped and logged. A failure rebuilds the
    Data Docs site before it raises, so it can be read there; a pass leaves that to
    ``build_data_docs`` after publish and reports the site's index (rebuilt then).
    """
    suites = list(suites)
    present = existing_tables(settings, suites)
    skipped = [s.name for s in suites if s.qualified_table not in present]
    for name in skipped:
        log.warning("quality gate: %s does not exist yet, its suite is skipped", name)
    to_run = [s for s in suites if s.qualified_table in present]

    outcomes = _run_checkpoint(settings, to_run, checkpoint_name) if to_run else {}
    success = all(o.success for o in outcomes.values())
    if success:
        forget_old_runs(context_dir(settings) / "gx" / "uncommitted")
        index = data_docs_index(settings)  # where build_data_docs renders this run's results
        docs: Path | None = index if to_run or index.exists() else None
    else:
        docs = build_data_docs(settings)
    report = GateReport(success=success, suites=outcomes, skipped=skipped, data_docs=docs)
    log.info("quality gate %s:\n%s", checkpoint_name, report.summary())
    if gate_metrics:
        write_gate_metrics(
            settings.state_dir / "metrics",
            checkpoint_name,
            {name: (o.success, len(o.failed)) for name, o in outcomes.items()},
            report.success,
            now=time.time(),
        )
    if not report.success:
        raise DataQualityFailed(f"quality gate {checkpoint_name} failed:\n{report.summary()}")
    return report


def _run_checkpoint(
    settings: Settings, suites: Sequence[TableSuite], checkpoint_name: str
) -> dict[str, SuiteOutcome]:
    import great_expectations as gx

    with warnings.catch_warnings():
        # GX 1.24 deprecates a table asset's schema_name in favour of a schema in the
        # connection, which its PostgreSQL datasource has no field for: keep using it.
        warnings.filterwarnings("ignore", "`schema_name` is deprecated", DeprecationWarning)
        context = open_context(settings)
        datasource = context.data_sources.add_or_update_postgres(
            name=DATASOURCE, connection_string="${" + URL_VARIABLE + "}"
        )
        checkpoint = context.checkpoints.add_or_update(
            gx.Checkpoint(
                name=checkpoint_name,
                validation_definitions=[
                    _validation_definition(context, datasource, suite) for suite in suites
                ],
                actions=[],  # the Data Docs: after publish (quality.data_docs)
                result_format="SUMMARY",
            )
        )
        result = checkpoint.run()
    return {run.suite_name: _outcome(run) for run in result.run_results.values()}


def _validation_definition(context: Any, datasource: Any, suite: TableSuite) -> Any:
    import great_expectations as gx

    try:
        asset = datasource.get_asset(suite.name)
        if suite.query is not None and asset.query != suite.query:  # made by an older version
            datasource.delete_asset(suite.name)
            raise LookupError(suite.name)
    except LookupError:
        if suite.query is not None:  # the rows of a window (quality/windows.py)
            asset = datasource.add_query_asset(name=suite.name, query=suite.query)
        else:
            asset = datasource.add_table_asset(
                name=suite.name, table_name=suite.table, schema_name=suite.schema
            )
    try:
        batch = asset.get_batch_definition("whole_table")
    except KeyError:
        batch = asset.add_batch_definition_whole_table("whole_table")
    expectations = gx.ExpectationSuite(name=suite.name, expectations=list(suite.expectations))
    expectations = context.suites.add_or_update(expectations)
    return context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=suite.name, data=batch, suite=expectations)
    )


def _outcome(run: Any) -> SuiteOutcome:
    failed = []
    for result in run.results:
        if result.success:
            continue
        config = result.expectation_config
        column = config.kwargs.get("column")
        details = result.result or {}
        seen = details.get("unexpected_count", details.get("observed_value"))
        sample = details.get("partial_unexpected_list") or details.get("details", {}).get(
            "unexpected_rows"
        )
        error = _error_message(result.exception_info)
        failed.append(
            f"{config.type}"
            + (f"({column})" if column else "")
            + (f" - {config.description}" if config.description else "")
            + (f": {seen} unexpected" if seen is not None else "")
            + (f", e.g. {list(sample)[:3]}" if sample else "")
            + (f": could not be evaluated: {error}" if error else "")
        )
    return SuiteOutcome(success=bool(run.success), evaluated=len(run.results), failed=failed)


def _error_message(info: Any) -> str | None:
    """First line of the error that kept an expectation from being evaluated, if any."""
    if not isinstance(info, dict):
        return None
    candidates = [info, *(v for v in info.values() if isinstance(v, dict))]
    for candidate in candidates:
        if candidate.get("raised_exception"):
            return str(candidate.get("exception_message", "")).splitlines()[0][:300]
    return None
