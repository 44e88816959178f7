"""The Great Expectations file context the gate writes to, and its Data Docs site.

The gate stores its validation results and no more; the site is rendered from them by
``build_data_docs``, which the pipeline runs after publish: rendering took about 15 s of
every gate on a busy 2-core machine, time a reader waited for nothing (docs/benchmarks.md).
A failed gate renders the site itself before it raises, so the failure can be read there.
"""

from __future__ import annotations

import os
import shutil
import warnings
from pathlib import Path
from typing import Any

from config.database_settings import DbRole
from config.settings import Settings
from database import connections
from database.names import WAREHOUSE_DATABASE

# Validation results (and their Data Docs pages) kept per suite: a run every few seconds
# would otherwise grow the store, and the time to rebuild the docs index, without end.
KEEP_RUNS = 50
# The context stores this placeholder, never the URL: a password must not land in its YAML.
URL_VARIABLE = "CQRSW_GX_WAREHOUSE_URL"


def context_dir(settings: Settings) -> Path:
    """The Great Expectations file context: suites, results and the Data Docs site."""
    return settings.state_dir / "gx"


def data_docs_index(settings: Settings) -> Path:
    return context_dir(settings) / "gx" / "uncommitted" / "data_docs" / "local_site" / "index.html"


def open_context(settings: Settings) -> Any:
    """The file context, with the warehouse URL given at run time and no progress bars."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(
        mode="file",
        project_root_dir=context_dir(settings),
        runtime_environment={
            URL_VARIABLE: connections.sqlalchemy_url(settings, WAREHOUSE_DATABASE, DbRole.PUBLISHER)
        },
    )
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def build_data_docs(settings: Settings, context: Any | None = None) -> Path | None:
    """Render the newest result of each suite and the index; return the index, if there is one.

    Only the newest results are rendered (the older ones' pages are already there), and the
    index once, not once per suite as a checkpoint's ``UpdateDataDocsAction`` does.
    """
    if not (context_dir(settings) / "gx").exists():
        return None  # no gate has run yet: nothing to render
    with warnings.catch_warnings():
        # see quality.gate: GX 1.24 deprecates the table asset's schema_name
        warnings.filterwarnings("ignore", "`schema_name` is deprecated", DeprecationWarning)
        context = context if context is not None else open_context(settings)
        newest = _newest_results(context.validation_results_store.list_keys())
        if newest:
            context.build_data_docs(
                resource_identifiers=[
                    *newest,
                    *(key.expectation_suite_identifier for key in newest),
                ]
            )
    forget_old_runs(context_dir(settings) / "gx" / "uncommitted")
    index = data_docs_index(settings)
    return index if index.exists() else None


def _newest_results(keys: list[Any]) -> list[Any]:
    """Per suite, the key of its latest validation result (``ValidationResultIdentifier``)."""
    newest: dict[str, Any] = {}
    for key in keys:
        suite = key.expectation_suite_identifier.name
        if suite not in newest or _run_time(key) > _run_time(newest[suite]):
            newest[suite] = key
    return list(newest.values())


def _run_time(key: Any) -> str:
    run_time = key.run_id.run_time
    return run_time.isoformat() if run_time is not None else ""


def forget_old_runs(uncommitted: Path, keep: int = KEEP_RUNS) -> None:
    """Delete all but the newest ``keep`` results per suite (run folders sort by time)."""
    for store in (
        uncommitted / "validations",
        uncommitted / "data_docs" / "local_site" / "validations",
    ):
        for suite_runs in store.glob("*/*/__none__"):
            runs = sorted(p for p in suite_runs.iterdir() if p.is_dir())
            for old in runs[:-keep]:
                shutil.rmtree(old, ignore_errors=True)
