"""Read routes parse their own parameters: the same 422s and the same OpenAPI as FastAPI's.

Each route's parameter model is declared twice on a throwaway app, once the FastAPI way
(solved per request) and once parsed by ``Parameters``; both must document the same
parameters and answer every input alike.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import pytest
from fastapi import FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.testclient import TestClient

from config.settings import Settings
from services.read_api.app import create_app
from services.read_api.cursors import CURSOR_MAX_LENGTH
from services.read_api.inputs import PRODUCT_ID_PATTERN
from services.read_api.parameters import Parameters
from services.read_api.routes.orders import OrdersQuery
from services.read_api.routes.products import HistoryQuery
from services.responses import validation_problem

TOKEN = "X-Position-Token"


def twin_apps() -> FastAPI:
    """The orders and history parameters both ways: ``/fastapi/...`` and ``/parsed/...``."""
    app = FastAPI()
    app.add_exception_handler(RequestValidationError, validation_problem)
    orders, history = Parameters(OrdersQuery), Parameters(HistoryQuery)

    @app.get("/fastapi/orders")
    async def fastapi_orders(query: Annotated[OrdersQuery, Query()]) -> dict[str, Any]:
        return query.model_dump(mode="json")

    @app.get("/fastapi/products/{product_id}/history")
    async def fastapi_history(  # as the route declared them when FastAPI solved them
        product_id: Annotated[str, Path(pattern=PRODUCT_ID_PATTERN.pattern)],
        since: Annotated[date | None, Query(alias="from", description="first day (UTC)")] = None,
        until: Annotated[date | None, Query(alias="to", description="last day (UTC)")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 366,
        cursor: Annotated[
            str | None,
            Query(max_length=CURSOR_MAX_LENGTH, description="X-Next-Cursor of the last page"),
        ] = None,
    ) -> dict[str, Any]:
        return {"product_id": product_id, "from": since and since.isoformat(), "limit": limit}

    def parsed(parameters: Parameters[Any]) -> Any:
        async def route(request: Request) -> dict[str, Any]:
            errors, values = parameters.errors_or_values(request)
            if values is None:
                raise RequestValidationError(errors)
            dumped: dict[str, Any] = values.model_dump(mode="json")
            return dumped

        return route

    app.get("/parsed/orders", openapi_extra={"parameters": orders.openapi_parameters})(
        parsed(orders)
    )
    app.get(
        "/parsed/products/{product_id}/history",
        openapi_extra={"parameters": history.openapi_parameters},
    )(parsed(history))
    return app


@pytest.fixture(scope="module")
def twins() -> TestClient:
    return TestClient(twin_apps())


@pytest.mark.parametrize(
    "query",
    [
        "userId=u-1",
        "userId=u-1&limit=7&status=invoiced&createdFrom=2026-01-01T00:00:00Z",
        "userId=u-1&userId=u-2&limit=3&limit=4",  # repeated: the last one counts
        "",
        "userId=",
        "userId=u%00x",
        "userId=" + "u" * 201,
        "userId=u-1&limit=0",
        "userId=u-1&limit=abc&status=lost",
        "userId=u-1&limit=",
        "userId=u-1&createdFrom=2026-01-01T00:00:00",  # naive
        "userId=u-1&createdTo=yesterday",
        "userId=u-1&cursor=" + "c" * 513,
        "userId=u-1&user_id=u-2&extra=1",
    ],
)
def test_orders_query_answers_as_fastapi_would(twins: TestClient, query: str) -> None:
    want = twins.get(f"/fastapi/orders?{query}")
    got = twins.get(f"/parsed/orders?{query}")
    assert (got.status_code, got.json()) == (want.status_code, want.json())


def _parameters(app: FastAPI, path: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = app.openapi()["paths"][path]["get"]["parameters"]
    return found


def test_the_openapi_lists_what_fastapi_would() -> None:
    app = twin_apps()
    assert _parameters(app, "/parsed/orders") == _parameters(app, "/fastapi/orders")
    history = "/products/{product_id}/history"
    assert _parameters(app, "/parsed" + history) == _parameters(app, "/fastapi" + history)


def test_path_and_query_errors_are_located_where_fastapi_locates_them(
    twins: TestClient,
) -> None:
    answer = twins.get("/parsed/products/bad%20id/history?limit=0&from=someday")
    assert answer.status_code == 422
    assert [p["loc"] for p in answer.json()["detail"]] == [
        ["path", "product_id"],
        ["query", "from"],
        ["query", "limit"],
    ]


def test_every_read_route_documents_the_position_header_and_the_bearer() -> None:
    spec = create_app(Settings(jwt_secret="spec-only-0123456789abcdef-0123456789")).openapi()
    schemes = spec["components"]["securitySchemes"]
    for path in ("/orders-with-invoices", "/products", "/products/{product_id}/stock"):
        operation = spec["paths"][path]["get"]
        assert TOKEN in [p["name"] for p in operation["parameters"] if p["in"] == "header"]
        assert [name for s in operation["security"] for name in s] == list(schemes)
