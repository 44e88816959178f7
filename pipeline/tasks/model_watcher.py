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

Under the scheduler a watcher starts in the triggerer (``start_from_trigger``): its
``ModelBuildTrigger`` reads those results and ends the task there when the model and its tests
passed or dbt skipped it. No worker process starts for it: nine of them, about a CPU-second
each, were taking a 2-core machine from the gate and publish that run beside them. A failure,
or a retry after a clear, resumes the task on a worker (``execute_complete``), where it fails
naming the tests, with the DAG's alert, or builds its model. ``airflow dags test`` runs
``execute``, which looks for the same results in the task.
"""

from __future__ import annotations

import asyncio
import enum
import os
from collections.abc import AsyncIterator, Collection, Iterable
from datetime import timedelta
from typing import Any, ClassVar

from airflow.sdk.exceptions import AirflowException
from airflow.triggers.base import (
    BaseTrigger,
    StartTriggerArgs,
    TaskSkippedEvent,
    TaskSuccessEvent,
    TriggerEvent,
)
from asgiref.sync import sync_to_async
from cosmos.operators._watcher.aggregation import get_tests_status_xcom_key
from cosmos.operators._watcher.state import (
    DbtTestStatus,
    get_dbt_event_xcom_key,
    get_status_xcom_key,
    get_xcom_val,
    is_dbt_node_status_failed,
    is_dbt_node_status_skipped,
    is_dbt_node_status_success,
)
from cosmos.operators.watcher import DbtRunWatcherOperator

from pipeline.tasks.dbt import REPORT_WAIT_S
from pipeline.tasks.spans import record_task_span

RESOURCE_TYPE = "--resource-type"
NICENESS = 10
# A watcher starts once the producer ended, so its model's result is in XCom at the first
# look or never (dbt did not report it): then the task is skipped after these looks, as
# long as a poking watcher waits.
LOOK_INTERVAL_S = 0.5
LOOKS = round(REPORT_WAIT_S / LOOK_INTERVAL_S)
# What makes a watcher go on on a worker (execute_complete), in the event's "resume" field.
RESUME_FAILED = "failed"
RESUME_REBUILD = "rebuild"
# Far more than the looks take; a triggerer that is down leaves the task deferred until then.
WATCH_TIMEOUT = timedelta(minutes=5)


class Verdict(enum.Enum):
    PASSED = "passed"  # the model was built and its tests passed
    SKIPPED = "skipped"  # dbt skipped the model (an upstream model failed)
    FAILED = "failed"  # the model or one of its tests failed


def model_status(model: Any) -> str | None:
    """The dbt status in a model's ``<model>_status`` XCom (``{"status": ..., ...}``)."""
    status = model.get("status") if isinstance(model, dict) else None
    return status if isinstance(status, str) else None


def verdict(model: Any, tests: Any, has_tests: bool) -> Verdict | None:
    """What the producer's XComs say of a model's task; None while they say nothing yet.

    ``model`` is the model's ``<model>_status`` XCom, ``tests`` the aggregated status of its
    tests (``<model>_tests_status``), which only counts when ``has_tests``.
    """
    status = model_status(model)
    if is_dbt_node_status_skipped(status):
        return Verdict.SKIPPED
    if is_dbt_node_status_failed(status):
        return Verdict.FAILED
    if not is_dbt_node_status_success(status):
        return None
    if not has_tests or tests == DbtTestStatus.PASS:
        return Verdict.PASSED
    return None if tests is None else Verdict.FAILED


class ModelBuildTrigger(BaseTrigger):
    """In the triggerer: end a model's task from the producer's XComs (see the module)."""

    def __init__(
        self, model_unique_id: str, test_unique_ids: list[str], producer_task_id: str
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.model_unique_id = model_unique_id
        self.test_unique_ids = list(test_unique_ids)
        self.producer_task_id = producer_task_id

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "model_unique_id": self.model_unique_id,
                "test_unique_ids": self.test_unique_ids,
                "producer_task_id": self.producer_task_id,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        ti = self._ti()
        if ti.try_number > 1:  # cleared or retried by hand: build the model again
            yield TriggerEvent({"resume": RESUME_REBUILD})  # type: ignore[no-untyped-call]
            return
        for _ in range(LOOKS):
            model = await self._producer_xcom(get_status_xcom_key(self.model_unique_id))
            tests: Any = None
            if self.test_unique_ids and is_dbt_node_status_success(model_status(model)):
                tests = await self._producer_xcom(get_tests_status_xcom_key(self.model_unique_id))
            outcome = verdict(model, tests, bool(self.test_unique_ids))
            if outcome is Verdict.PASSED:
                await sync_to_async(record_task_span)(ti)
                yield TaskSuccessEvent()
                return
            if outcome is Verdict.SKIPPED:
                yield TaskSkippedEvent()
                return
            if outcome is Verdict.FAILED:
                yield TriggerEvent({"resume": RESUME_FAILED})  # type: ignore[no-untyped-call]
                return
            await asyncio.sleep(LOOK_INTERVAL_S)
        self.log.warning("dbt reported nothing of %s: skipped", self.model_unique_id)
        yield TaskSkippedEvent()

    def _ti(self) -> Any:
        if self.task_instance is None:  # the triggerer sets it for a task's trigger
            raise RuntimeError("ModelBuildTrigger runs for a task instance")
        return self.task_instance

    async def _producer_xcom(self, key: str) -> Any:
        from airflow.sdk.execution_time.xcom import XCom

        ti = self._ti()
        return await sync_to_async(XCom.get_one)(
            run_id=ti.run_id,
            key=key,
            task_id=self.producer_task_id,
            dag_id=ti.dag_id,
            map_index=ti.map_index,
        )


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

    def execute_complete(self, context: Any, event: dict[str, Any]) -> None:
        """A ``ModelBuildTrigger`` handed the task to a worker: fail or build the model."""
        if event.get("resume") == RESUME_REBUILD:
            os.nice(NICENESS)
            self._fallback_to_non_watcher_run(try_number=context["ti"].try_number, context=context)
            return
        if event.get("resume") == RESUME_FAILED:
            self.poke(context)  # raises, naming the model or its tests that failed
            raise AirflowException(f"{self.model_unique_id}: dbt reported a failure")
        super().execute_complete(context, event)

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


def watch_builds(producer: Any, tasks: Iterable[Any], unbuilt: Collection[str] = ()) -> None:
    """Make the watcher group's ``producer`` run the tests too and every model watcher among
    ``tasks`` a ``ModelBuildWatcher`` that waits for them, bar the tests in ``unbuilt``
    (excluded from the build: they would never report).

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
            tests = tests_per_model.get(task.model_unique_id, ())
            task.test_unique_ids = tuple(test for test in tests if test not in unbuilt)
            task.start_trigger_args = StartTriggerArgs(
                trigger_cls=f"{ModelBuildTrigger.__module__}.{ModelBuildTrigger.__qualname__}",
                trigger_kwargs={
                    "model_unique_id": task.model_unique_id,
                    "test_unique_ids": list(task.test_unique_ids),
                    "producer_task_id": task.producer_task_id,
                },
                next_method="execute_complete",
                timeout=WATCH_TIMEOUT,
            )
            task.start_from_trigger = True
