"""Liveness and readiness of a service: is the process answering, can it do its work now.

Liveness does no IO, so a slow or unreachable database never makes an orchestrator kill a
process that a restart would not help. Readiness checks what a request needs: the database
through the service's own pool, within a bound, and on a write service the outbox relay
thread. A failed readiness check answers 503 naming the check, so the service is taken out
of rotation (and alerted on) but left running to recover by itself.
"""

from __future__ import annotations

import logging
import threading
from typing import Literal

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from psycopg_pool import ConnectionPool
from pydantic import BaseModel

log = logging.getLogger(__name__)

# Under the probes' own timeouts (deploy/k8s: 2 s; docker-compose.yml: 5 s).
READY_TIMEOUT_S = 1.5
LIVE_PATHS = ("/health", "/health/live")
READY_PATH = "/health/ready"


class Liveness(BaseModel):
    status: Literal["ok"]
    service: str


class Check(BaseModel):
    ok: bool
    detail: str


class Readiness(BaseModel):
    status: Literal["ready", "not ready"]
    service: str
    checks: dict[str, Check]


router = APIRouter(tags=["ops"])


@router.get("/health", summary="Liveness (alias of /health/live)")
@router.get("/health/live", summary="Liveness: the process answers; no IO")
def live(request: Request) -> Liveness:
    return Liveness(status="ok", service=request.app.state.service_name)


@router.get(
    READY_PATH,
    summary="Readiness: database reachable (and, on a write service, the outbox relay alive)",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "A check failed; see `checks`"}},
)
async def ready(request: Request) -> Readiness | JSONResponse:
    state = request.app.state
    checks = {"database": await database_check(getattr(state, "pool", None))}
    relay = getattr(state, "relay_thread", None)
    if relay is not None:
        checks["relay"] = relay_check(relay)
    # What a service adds about itself (the read API: whether its answers are kept).
    for name, check in getattr(state, "readiness_notes", dict)().items():
        checks[name] = check
    answer = Readiness(
        status="ready" if all(c.ok for c in checks.values()) else "not ready",
        service=state.service_name,
        checks=checks,
    )
    if answer.status == "ready":
        return answer
    return JSONResponse(answer.model_dump(), status_code=503, headers={"Retry-After": "1"})


async def database_check(pool: ConnectionPool | None) -> Check:
    """A pooled connection answers ``select 1`` within ``READY_TIMEOUT_S``."""
    if pool is None:
        return Check(ok=False, detail="no connection pool (the service is starting or stopping)")

    def query() -> None:
        with pool.connection(timeout=READY_TIMEOUT_S) as conn:
            conn.execute("select 1")

    try:
        # A frozen server would hold the query's thread: the answer does not wait for it.
        with anyio.fail_after(READY_TIMEOUT_S):
            await anyio.to_thread.run_sync(query, abandon_on_cancel=True)
    except TimeoutError:
        return Check(ok=False, detail=f"no answer from the database within {READY_TIMEOUT_S}s")
    except Exception as exc:  # any failure is the answer; the details go to the log only
        log.warning("readiness: database check failed: %s", exc)
        return Check(ok=False, detail=f"database unreachable ({type(exc).__name__})")
    return Check(ok=True, detail="select 1 answered")


def relay_check(thread: threading.Thread) -> Check:
    if thread.is_alive():
        return Check(ok=True, detail="outbox relay thread running")
    return Check(ok=False, detail="outbox relay thread is dead: events are not being published")
