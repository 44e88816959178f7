"""One Airflow task per dbt model that shows the model *and its tests*, as dbt build runs them.

Cosmos 1.15's watcher mode renders a model either alone (``TestBehavior.NONE``) or as a
``.run`` task and a ``.test`` task (``AFTER_EACH``); its ``BUILD`` behaviour, one task per model
and its tests, raises ``NotImplementedError`` there. Two watching tasks per model cost a run
about a second of process start-up each on 2 cores, and the second one waits for the first:
they were what kept a run going 9-18 s after its publish (docs/benchmarks.md, freshness).

``ModelBuildWatcher`` is Cosmos's model watcher that, once the model is built, also reads the
aggregated result of the model's tests that the producer pushes for every model whatever the
rendering (``<model>_tests_status``): the task succeeds when both passed and fails naming the
tests that did not. Cleared by hand after the producer ended, it runs ``dbt build`` of its
model (the model and its tests), as Cosmos's own fallback does with ``dbt run``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any, ClassVar

from airflow.sdk.exceptions import AirflowException
from cosmos.operators._watcher.aggregation import get_tests_status_xcom_key
from cosmos.operators._watcher.state import (
    DbtTestStatus,
    get_dbt_event_xcom_key,
    get_xcom_val,
    is_dbt_node_status_success,
)
from cosmos.operators.watcher import DbtRunWatcherOperator

RESOURCE_TYPE = "--resource-type"
NICENESS = 10


class ModelBuildWatcher(DbtRunWatcherOperator):  # type: ignore[misc]
    """A model's task in the watcher group: its build, then its tests' aggregated result."""

    # The fallback after a clear: the model and its tests, like the producer.
    base_cmd: ClassVar[list[str]] = ["build"]
    test_unique_ids: tuple[str, ...] = ()

    def execute(self, context: Any, **kwargs: Any) -> None:
        # Beside the gate and publish, which a reader waits for, and for a CPU or two: a
        # watcher that only reads results takes what they leave.
        os.nice(NICENESS)
        super().execute(context, **kwargs)

    def poke(self, context: Any) -> bool:
        if not super().poke(context):  # the model itself (raises if it failed or was skipped)
            return False
        if not self.test_unique_ids:
            return True
        ti = context["ti"]
        key = get_tests_status_xcom_key(self.model_unique_id)
        status = get_xcom_val(ti, self.producer_task_id, key)
        if status is None:
            self.log.info("model %s built; waiting for its tests", self.model_unique_id)
            return False
        if status == DbtTestStatus.PASS:
            self.log.info("%d tests of %s passed", len(self.test_unique_ids), self.model_unique_id)
            return True
        failed = [
            f"{test}: {event.get('status')} {event.get('msg') or ''}".rstrip()
            for test, event in self._test_events(ti)
            if not is_dbt_node_status_success(event.get("status"))
        ]
        raise AirflowException(
            f"tests of {self.model_unique_id} failed:\n"
            + ("\n".join(failed) or "see the producer task's log")
        )

    def _test_events(self, ti: Any) -> Iterable[tuple[str, dict[str, Any]]]:
        for test in self.test_unique_ids:
            event = get_xcom_val(ti, self.producer_task_id, get_dbt_event_xcom_key(test))
            if isinstance(event, dict):
                yield test, event


def watch_builds(producer: Any, tasks: Iterable[Any]) -> None:
    """Make the watcher group's ``producer`` run the tests too and every model watcher among
    ``tasks`` a ``ModelBuildWatcher`` that waits for them.

    Rendering without test tasks, Cosmos narrows the producer's ``dbt build`` to models,
    seeds and snapshots (``--resource-type`` flags): no test would run and none would gate
    the run. Dropping those flags gives back the whole ``dbt build``.
    """
    flags = list(producer.dbt_cmd_flags or [])
    while RESOURCE_TYPE in flags:
        at = flags.index(RESOURCE_TYPE)
        del flags[at : at + 2]
    producer.dbt_cmd_flags = flags
    tests_per_model: dict[str, list[str]] = producer.tests_per_model
    for task in tasks:
        if type(task) is DbtRunWatcherOperator:
            task.__class__ = ModelBuildWatcher
            task.test_unique_ids = tuple(tests_per_model.get(task.model_unique_id, ()))
