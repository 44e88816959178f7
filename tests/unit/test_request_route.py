"""Read routes that take the Request alone are called with it; the rest keep FastAPI's handler."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, HTTPException, Request, Response
from fastapi.testclient import TestClient

from services.read_api.request_route import RequestRoute, takes_request_only


async def direct(request: Request) -> Response:
    if request.query_params.get("fail"):
        raise HTTPException(418, "asked to fail")
    return Response(b"direct", media_type="text/plain", headers={"X-Seen": request.url.path})


async def with_parameter(request: Request, name: str = "x") -> Response:
    return Response(name.encode(), media_type="text/plain")


def sync_endpoint(request: Request) -> Response:
    return Response(b"sync", media_type="text/plain")


def test_only_an_async_endpoint_of_the_request_alone_is_called_directly() -> None:
    assert takes_request_only(direct)
    assert not takes_request_only(with_parameter)
    assert not takes_request_only(sync_endpoint)


def _client() -> TestClient:
    router = APIRouter(route_class=RequestRoute)
    router.get("/direct")(direct)
    router.get("/parameter")(with_parameter)
    app = FastAPI()
    app.include_router(router)
    return TestClient(app)


def test_a_direct_route_answers_and_its_errors_reach_the_app_handlers() -> None:
    client = _client()
    answer = client.get("/direct")
    assert (answer.status_code, answer.text, answer.headers["x-seen"]) == (200, "direct", "/direct")
    failed = client.get("/direct?fail=1")
    assert (failed.status_code, failed.json()) == (418, {"detail": "asked to fail"})
    assert client.post("/direct").status_code == 405


def test_a_route_with_parameters_is_still_solved_by_fastapi() -> None:
    assert _client().get("/parameter?name=solved").text == "solved"
    assert _client().get("/parameter").text == "x"
