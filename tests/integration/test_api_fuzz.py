"""schemathesis against each service's /openapi.json, in-process: no 5xx, as documented.

The write services run on a PostgreSQL of their own here, so the fuzzed orders, invoices
and stock operations never reach the warehouse the other tests check; the read API reads
the session's warehouse once its views are published (before that it answers 503).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import TYPE_CHECKING, cast

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.python.asgi import ASGIApp, ASGIClient, get_client
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from config.settings import Settings
from pipeline.publish import publish_views
from services.invoices.app import create_app as invoices_app
from services.orders.app import create_app as orders_app
from services.read_api.app import create_app as read_api_app
from services.stock.app import create_app as stock_app
from services.tokens import ROLES, issue_token
from tests.support.dbt_in_process import InProcessDbt
from tests.support.throwaway_stack import throwaway_stack

if TYPE_CHECKING:  # a type alias only: schemathesis defines it for type checkers alone
    from schemathesis.specs.openapi.schemas import OpenApiOperation

    Case = schemathesis.Case[OpenApiOperation]
else:
    Case = schemathesis.Case
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]
EXAMPLES = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)


@pytest.fixture(scope="module")
def every_role(settings: Settings) -> dict[str, str]:
    """One secret for both stacks: the session's."""
    return {"Authorization": f"Bearer {issue_token(settings, 'fuzzer', roles=ROLES)}"}


@pytest.fixture(scope="module")
def clients(settings: Settings, dbt: InProcessDbt) -> Iterator[dict[str, ASGIClient]]:
    """Each service in-process and started (lifespan): writers on a stack of their own."""
    dbt("run")
    publish_views(settings)
    with (
        throwaway_stack(kafka=False, jwt_secret=settings.jwt_hs256_secret) as own,
        ExitStack() as stack,
    ):
        yield {
            name: stack.enter_context(
                get_client(_asgi(factory(settings if name == "read_api" else own)))
            )
            for name, factory in FACTORIES.items()
        }


def _asgi(app: FastAPI) -> ASGIApp:
    return cast(ASGIApp, app)


FACTORIES: dict[str, Callable[[Settings], FastAPI]] = {
    "orders": orders_app,
    "invoices": invoices_app,
    "stock": stock_app,
    "read_api": read_api_app,
}
# The schema is the app's own /openapi.json; it does not depend on the settings.
_SPEC_SETTINGS = Settings(jwt_secret="spec-only-0123456789abcdef-0123456789")
SCHEMAS = {
    name: schemathesis.openapi.from_dict(factory(_SPEC_SETTINGS).openapi())
    for name, factory in FACTORIES.items()
}


def _run(case: Case, client: ASGIClient, headers: dict[str, str]) -> None:
    response = case.call(session=client, base_url=client.base_url, headers=headers)
    case.validate_response(response, checks=CHECKS, headers=headers)


@SCHEMAS["orders"].parametrize()
@EXAMPLES
def test_orders(case: Case, clients: dict[str, ASGIClient], every_role: dict[str, str]) -> None:
    _run(case, clients["orders"], every_role)


@SCHEMAS["invoices"].parametrize()
@EXAMPLES
def test_invoices(case: Case, clients: dict[str, ASGIClient], every_role: dict[str, str]) -> None:
    _run(case, clients["invoices"], every_role)


@SCHEMAS["stock"].parametrize()
@EXAMPLES
def test_stock(case: Case, clients: dict[str, ASGIClient], every_role: dict[str, str]) -> None:
    _run(case, clients["stock"], every_role)


@SCHEMAS["read_api"].parametrize()
@EXAMPLES
def test_read_api(case: Case, clients: dict[str, ASGIClient], every_role: dict[str, str]) -> None:
    _run(case, clients["read_api"], every_role)
