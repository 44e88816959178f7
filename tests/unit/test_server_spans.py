"""A server span per request where events carry its context, or where spans are exported."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, Request
from fastapi.testclient import TestClient

from config.settings import Settings
from services.app import create_service_app
from services.tokens import issue_token

probe = APIRouter()


@probe.get("/probe")
async def _probe(request: Request) -> dict[str, str | None]:
    return {"traceparent": request.state.traceparent}


def _traceparent(settings: Settings, *, write_side: bool) -> str | None:
    app = create_service_app(
        name="span_test", settings=settings, dbname="unused", routers=[probe], write_side=write_side
    )
    # No lifespan (no ``with``): the probe needs no pool.
    token = issue_token(settings, "ann")
    r = TestClient(app).get("/probe", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    found: str | None = r.json()["traceparent"]
    return found


@pytest.mark.parametrize(
    ("exporter", "write_side", "spanned"),
    [("none", True, True), ("none", False, False), ("console", False, True)],
)
def test_server_span_only_where_it_is_used(exporter: str, write_side: bool, spanned: bool) -> None:
    settings = Settings(jwt_secret="s" * 40, otel_exporter=exporter)
    assert (_traceparent(settings, write_side=write_side) is not None) is spanned
