"""The Airflow UI that `make up` starts answers over HTTP, with the documented login."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from config.settings import Settings
from stack.airflow import ADMIN_USER, COMPONENTS, run_airflow, start_airflow, stop_airflow
from tests.support.throwaway_stack import free_port

# No scheduler: nothing may run DAGs against the test session's warehouse behind its back.
API_SERVER_AND_DAG_PROCESSOR = [c for c in COMPONENTS if c.command != "scheduler"]
# One DAG per file in dags/, named as its file: every one of them must be listed.
DAGS = {path.stem for path in (Path(__file__).parents[2] / "dags").glob("*.py")}


@pytest.fixture(scope="module")
def airflow_ui(airflow_ready: Settings) -> Iterator[tuple[Settings, httpx.Client]]:
    settings = airflow_ready.model_copy(update={"airflow_port": free_port()})
    where, started = start_airflow(settings, API_SERVER_AND_DAG_PROCESSOR)
    try:
        with httpx.Client(base_url=where, timeout=10) as client:
            yield settings, client
    finally:
        stopped = stop_airflow(settings, started)
        assert sorted(stopped) == sorted(started)


def login(client: httpx.Client, password: str) -> httpx.Response:
    return client.post("/auth/token", json={"username": ADMIN_USER, "password": password})


def test_ui_page_and_health_answer(airflow_ui: tuple[Settings, httpx.Client]) -> None:
    _, client = airflow_ui
    page = client.get("/", follow_redirects=True)
    assert page.status_code == 200
    assert "<title>Airflow</title>" in page.text
    health = client.get("/api/v2/monitor/health").json()
    assert health["metadatabase"]["status"] == "healthy"
    assert health["dag_processor"]["status"] == "healthy"
    assert health["triggerer"]["status"] == "healthy"


def test_documented_login_lists_the_dags_without_import_errors(
    airflow_ui: tuple[Settings, httpx.Client],
) -> None:
    settings, client = airflow_ui
    assert login(client, "wrong").status_code == 401
    answer = login(client, "admin")  # docs/running.md: user admin, password admin in dev
    assert answer.status_code in (200, 201), answer.text
    auth = {"Authorization": f"Bearer {answer.json()['access_token']}"}

    deadline = time.monotonic() + 90  # the dag-processor parses the folder once it is up
    dag_ids: set[str] = set()
    while time.monotonic() < deadline and dag_ids != DAGS:
        dags = client.get("/api/v2/dags", headers=auth).json()["dags"]
        dag_ids = {d["dag_id"] for d in dags}
        time.sleep(1)
    assert dag_ids == DAGS
    assert client.get("/api/v2/importErrors", headers=auth).json()["total_entries"] == 0
    listed = run_airflow(settings, "dags", "list-import-errors", "-o", "json").stdout
    assert json.loads(listed.strip().splitlines()[-1]) == []
