"""Task retries: with backoff when the broker or the database is out of reach, else none."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import RetryDecision, RetryPolicy

from pipeline.failures import is_transient

RETRIES = 4
RETRY_DELAY = timedelta(seconds=15)
MAX_RETRY_DELAY = timedelta(minutes=5)
BACKOFF = 2.0  # 15 s, 30 s, 1 min, 2 min


class RetryWhenUnreachable(RetryPolicy):
    """Retry (with the task's backoff) only when ``is_transient``; otherwise fail at once."""

    def evaluate(
        self, exception: BaseException, try_number: int, max_tries: int, context: Any = None
    ) -> Any:
        if is_transient(exception):
            return RetryDecision.retry(reason=f"transient: {type(exception).__name__}")
        return RetryDecision.fail(reason="not a connection problem: a retry would fail the same")


def retry_args() -> dict[str, Any]:
    """Task arguments for the retry behaviour above."""
    return {
        "retries": RETRIES,
        "retry_delay": RETRY_DELAY,
        "retry_exponential_backoff": BACKOFF,
        "max_retry_delay": MAX_RETRY_DELAY,
        "retry_policy": RetryWhenUnreachable(),
    }
