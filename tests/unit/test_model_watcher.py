"""What a model's task in the pipeline's grid says, from the producer's results in XCom
(pipeline/tasks/model_watcher.py): the triggerer ends the task on this verdict."""

from __future__ import annotations

from typing import Any

import pytest

from pipeline.tasks.forked_dbt import dbt_exit_code
from pipeline.tasks.model_watcher import Verdict, verdict


def built(status: str) -> dict[str, Any]:
    return {"status": status, "outlet_uris": []}  # as Cosmos's producer pushes it


@pytest.mark.parametrize(
    ("model", "tests", "has_tests", "expected"),
    [
        (built("success"), "pass", True, Verdict.PASSED),
        (built("success"), None, False, Verdict.PASSED),  # a model without tests
        (built("success"), "fail", True, Verdict.FAILED),  # built, but a test failed
        (built("success"), None, True, None),  # built, its tests not reported yet
        (built("error"), None, True, Verdict.FAILED),
        (built("failed"), None, False, Verdict.FAILED),
        (built("skipped"), None, True, Verdict.SKIPPED),  # an upstream model failed
        (None, None, True, None),  # nothing reported yet
        ({"outlet_uris": []}, None, False, None),
        ("success", "pass", True, None),  # not the shape the producer pushes
    ],
)
def test_the_verdict_on_a_model_and_its_tests(
    model: Any, tests: Any, has_tests: bool, expected: Verdict | None
) -> None:
    assert verdict(model, tests, has_tests) is expected


@pytest.mark.parametrize(
    ("success", "exception", "code"),
    [(True, None, 0), (False, None, 1), (False, RuntimeError("no profile"), 2)],
)
def test_a_forked_dbt_exits_with_the_dbt_commands_code(
    success: bool, exception: BaseException | None, code: int
) -> None:
    assert dbt_exit_code(success, exception) == code
