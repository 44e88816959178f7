"""Faults while Airflow runs the pipeline continuously, under load, with the stack supervised.

The real scheduler, dag-processor, triggerer and api-server of `make up` run the pipeline
DAG pass after pass while the load generator sends seeded commands; a supervisor (the one
`cqrsw stack up --supervise` runs) starts again whatever dies. In turn: SIGKILL the
scheduler, the triggerer, a running dbt build, the ingest task while it writes, PostgreSQL
while `publish` runs and the broker while `ingest` runs, and SIGSTOP the stock service
longer than its clients wait. After each, the pipeline must publish again within
``RESUME_BOUND_S`` of the stack being whole; at the end no command is lost or doubled,
unknown outcomes are asked again with their keys (at most 1 % stay unknown) and every
view equals the independent record, for every user and product
(tests/support/airflow_faults.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.airflow_faults import (
    FAULTS,
    RESUME_BOUND_S,
    Outcome,
    describe,
    in_turn,
    supervised_airflow_stack,
    under_load,
)
from tests.support.faults import assert_holds

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.faults]
RATE = 8.0  # commands/s: Airflow and the stack share two busy cores
RESTARTED = {  # the part the supervisor must have started again after each fault
    "scheduler": "airflow-scheduler",
    "triggerer": "airflow-triggerer",
    "postgres": "postgres",
    "broker": "kafka",
}


def run(tmp_path: Path, names: list[str]) -> Outcome:
    with supervised_airflow_stack() as watch:
        outcome = under_load(watch, tmp_path / "load.jsonl", in_turn(names), rate=RATE)
    print("\n".join(describe(outcome)))  # shown with -s or on failure
    return outcome


def assert_recovered(outcome: Outcome, names: list[str]) -> None:
    assert [i.name for i in outcome.injected] == names
    for injected in outcome.injected:
        assert injected.pause_s is not None, injected
        assert injected.whole is not None and injected.published is not None
        resumed = (injected.published - injected.whole).total_seconds()
        assert 0 < resumed <= RESUME_BOUND_S, injected
    restarted = {part for _, parts in outcome.restarts for part in parts}
    assert {RESTARTED[name] for name in names if name in RESTARTED} <= restarted
    assert_holds(outcome.report, outcome.records, {})


def test_a_scheduler_killed_mid_run_under_load(tmp_path: Path) -> None:
    """The short version, in `make test`."""
    outcome = run(tmp_path, ["scheduler"])
    assert_recovered(outcome, ["scheduler"])


@pytest.mark.long
@pytest.mark.parametrize(
    "names",
    [[name] for name in FAULTS if name != "scheduler"] + [list(FAULTS)],
    ids=lambda names: "+".join(names),
)
def test_airflow_fault_suite(tmp_path: Path, names: list[str]) -> None:
    assert_recovered(run(tmp_path, names), names)
