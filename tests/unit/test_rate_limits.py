"""Limits at the edge, as configured: gateway rates, uvicorn concurrency, 429 in OpenAPI (no IO)."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI

from config.settings import Settings
from services.invoices.app import create_app as invoices_app
from services.orders.app import create_app as orders_app
from services.read_api.app import create_app as read_api_app
from services.stock.app import create_app as stock_app
from stack.gateway import TEMPLATE, local_values, render
from stack.http_services import HTTP_SERVICES

SETTINGS = Settings(jwt_secret="r" * 40, gateway_token_rate=7, gateway_address_rate=11)


def test_the_gateway_limits_each_token_and_each_address() -> None:
    conf = render(TEMPLATE.read_text(), local_values(SETTINGS))
    assert "limit_req_zone $cqrsw_token_key zone=cqrsw_per_token:10m rate=7r/s;" in conf
    assert "limit_req_zone $binary_remote_addr zone=cqrsw_per_address:10m rate=11r/s;" in conf
    assert "limit_req zone=cqrsw_per_token burst=14 nodelay;" in conf
    assert "limit_req zone=cqrsw_per_address burst=22 nodelay;" in conf
    assert "limit_req_status 429;" in conf
    # A location's own error_page list replaces the server's: each one names the 429 page.
    locations = re.findall(r"location [^{]*\{(.*?)\n    \}", conf, flags=re.S)
    with_pages = [body for body in locations if "error_page" in body]
    assert with_pages
    assert all("error_page 429 = @too_many_requests;" in body for body in with_pages)


@pytest.mark.parametrize("service", HTTP_SERVICES, ids=lambda s: s.name)
def test_each_service_process_bounds_its_concurrency(service: object) -> None:
    argv = service.uvicorn_argv(Settings(service_concurrency_limit=321))  # type: ignore[attr-defined]
    assert argv[argv.index("--limit-concurrency") + 1] == "321"


@pytest.mark.parametrize("factory", [orders_app, invoices_app, stock_app, read_api_app])
def test_every_api_route_documents_429(factory: object) -> None:
    app: FastAPI = factory(SETTINGS)  # type: ignore[operator]
    paths = app.openapi()["paths"]
    api = {
        (path, method): operation
        for path, item in paths.items()
        for method, operation in item.items()
        if not path.startswith(("/health", "/auth", "/metrics"))
    }
    assert api
    assert [where for where, op in api.items() if "429" not in op["responses"]] == []


@pytest.mark.parametrize("factory", [orders_app, invoices_app])
def test_the_bff_reads_are_mounted_only_where_a_bff_runs(factory: object) -> None:
    def bff_paths(settings: Settings) -> list[str]:
        app: FastAPI = factory(settings)  # type: ignore[operator]
        paths = [str(getattr(route, "path", "")) for route in app.routes]
        return [path for path in paths if path.startswith("/internal/")]

    assert bff_paths(SETTINGS) == []
    assert bff_paths(SETTINGS.model_copy(update={"bff_reads": True})) != []
