"""Session fixtures: one embedded PostgreSQL and one Tansu broker for all tests, on free ports."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from config.settings import Settings
from services.invoices.app import create_app as invoices_app
from services.orders.app import create_app as orders_app
from services.read_api.app import create_app as read_api_app
from services.stock.app import create_app as stock_app
from services.tokens import CUSTOMER, issue_token
from tests.support.dbt_in_process import InProcessDbt
from tests.support.throwaway_stack import throwaway_stack


@pytest.fixture(scope="session")
def settings() -> Iterator[Settings]:
    # Relays off (the default here): tests drain the outbox explicitly, so every step is
    # deterministic.
    with throwaway_stack(jwt_secret="integration-test-secret-0123456789abcdef") as settings:
        yield settings


@pytest.fixture(scope="session")
def orders(settings: Settings) -> Iterator[TestClient]:
    with TestClient(orders_app(settings)) as client:
        yield client


@pytest.fixture(scope="session")
def invoices(settings: Settings) -> Iterator[TestClient]:
    with TestClient(invoices_app(settings)) as client:
        yield client


@pytest.fixture(scope="session")
def stock(settings: Settings) -> Iterator[TestClient]:
    with TestClient(stock_app(settings)) as client:
        yield client


@pytest.fixture(scope="session")
def read_api(settings: Settings) -> Iterator[TestClient]:
    with TestClient(read_api_app(settings)) as client:
        yield client


@pytest.fixture
def auth(settings: Settings) -> Callable[..., dict[str, str]]:
    """``auth(user, *roles)``: headers with a token for ``user``; a customer's by default."""

    def headers(user: str, *roles: str) -> dict[str, str]:
        token = issue_token(settings, user, roles=roles or (CUSTOMER,))
        return {"Authorization": f"Bearer {token}"}

    return headers


@pytest.fixture(scope="session")
def airflow_ready(settings: Settings) -> Settings:
    """The session stack plus Airflow's metadata database, UI login and dbt manifest."""
    from stack.airflow import prepare_airflow

    prepare_airflow(settings)
    return settings


@pytest.fixture(scope="session")
def dbt(settings: Settings) -> InProcessDbt:
    """dbt in the test process, parsed once: for tests that run it many times."""
    return InProcessDbt(settings)
