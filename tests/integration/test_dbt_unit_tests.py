"""dbt's unit tests: left out of the pipeline's builds, run here by `make test`."""

from __future__ import annotations

import json
import re

from config.settings import DBT_PROJECT_DIR, Settings
from pipeline.dbt import PIPELINE_EXCLUDE, run_dbt


def unit_tests_in_project() -> list[str]:
    """``<model>::<unit test>``, as dbt's log names them, for every unit test declared."""
    manifest = json.loads((DBT_PROJECT_DIR / "target" / "manifest.json").read_text())
    return [f"{t['model']}::{t['name']}" for t in manifest["unit_tests"].values()]


def test_the_pipeline_build_runs_no_unit_test_and_make_test_runs_them_all(
    settings: Settings,
) -> None:
    built = run_dbt(settings, "build", "--exclude", *PIPELINE_EXCLUDE, quiet=True)
    unit_tests = unit_tests_in_project()
    assert unit_tests  # the models' YAML declares some
    assert "START unit_test" not in built
    assert re.search(r"START sql incremental model \S+orders_with_invoices", built)

    tested = run_dbt(settings, "test", "--resource-type", "unit_test", quiet=True)
    passed = [name for name in unit_tests if re.search(rf"PASS {re.escape(name)}\b", tested)]
    assert passed == unit_tests, tested[-3000:]
