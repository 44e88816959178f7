"""The demo waits for its writes by asking the read API with their position tokens."""

from __future__ import annotations

import httpx

from cqrsw.demo import not_served_yet


def answer(status: int, **headers: str) -> httpx.Response:
    return httpx.Response(status, headers={k.replace("_", "-"): v for k, v in headers.items()})


def test_a_write_is_served_only_when_the_read_api_says_included() -> None:
    assert not_served_yet(answer(200, X_Position_Included="true")) is None
    not_ingested = answer(200, X_Position_Included="false", X_Position_Stage="not-ingested")
    assert not_served_yet(not_ingested) == "not-ingested"
    assert not_served_yet(answer(200, X_Position_Included="false")) == "?"
    assert not_served_yet(answer(200, X_Position_Included="unrelated")) == "?"


def test_a_first_run_that_published_nothing_is_not_yet_not_a_failure() -> None:
    assert not_served_yet(answer(503)) == "nothing published yet"
