"""Kept answers: a read is answered from what was kept until its view is published again.

To see that an answer is kept (and not read again), a row of the served view is changed
behind the read API's back, as no real writer does: serving changes only by publication.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from config.settings import Settings
from database import connections
from database.names import WAREHOUSE_DATABASE
from pipeline.publish import publish_views
from services.position import PositionTokens, payload_of
from services.read_api.freshness_cache import KEPT_ANSWERS_BOUND_S
from services.read_api.publication_listener import APPLICATION_NAME
from tests.support.dbt_in_process import InProcessDbt
from tests.support.raw_events import ingest_events, order_created

Auth = Callable[..., dict[str, str]]
T0 = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def _kept() -> float:
    return REGISTRY.get_sample_value("cqrsw_read_answers_total", {"outcome": "kept"}) or 0.0


def _rename_behind_the_api(settings: Settings, order_id: str, name: str) -> None:
    with connections.connect(settings, WAREHOUSE_DATABASE, autocommit=True) as conn:
        conn.execute(
            "update serving.orders_with_invoices set customer_name = %s where order_id = %s",
            (name, order_id),
        )


def _until(check: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def test_a_kept_answer_is_served_until_the_view_is_published_again(
    settings: Settings, dbt: InProcessDbt, read_api: TestClient, auth: Auth
) -> None:
    user, order_id = f"kept-{uuid.uuid4().hex[:6]}", str(uuid.uuid4())
    created = order_created(order_id, user, T0, customer_name="Ada")
    ingest_events(settings, [created])
    dbt("run")
    publish_views(settings)
    freshness = read_api.app.state.freshness_cache  # type: ignore[attr-defined]
    assert _until(lambda: freshness.announced), "the read API never listened for publications"

    def name(**headers: str) -> str:
        r = read_api.get(
            "/orders-with-invoices", params={"userId": user}, headers={**auth(user), **headers}
        )
        assert r.status_code == 200, r.text
        assert r.headers["X-View"] == "orders_with_invoices"
        return str(r.json()[0]["customerName"])

    assert name() == "Ada"  # read, and kept
    _rename_behind_the_api(settings, order_id, "Grace")
    kept_before = _kept()
    assert name() == "Ada"  # the same publication: the kept answer
    assert _kept() == kept_before + 1
    # A kept answer is this request's: its own request id, once.
    again = read_api.get(
        "/orders-with-invoices",
        params={"userId": user},
        headers={**auth(user), "X-Request-Id": "kept-1"},
    )
    assert again.headers.get_list("X-Request-Id") == ["kept-1"]
    assert _kept() == kept_before + 2

    # A read naming a write always reads; so does another caller (who may not see it).
    token = PositionTokens(settings.read_token_secret).token(payload_of(created))
    assert name(**{"X-Position-Token": token}) == "Grace"
    other = read_api.get("/orders-with-invoices", params={"userId": user}, headers=auth("mallory"))
    assert other.status_code == 403

    # A publication of the view, announced at commit: what was kept of it goes.
    ingest_events(settings, [order_created(str(uuid.uuid4()), "someone-else", T0)])
    dbt("run")
    publish_views(settings)
    assert _until(lambda: name() == "Grace"), "a publication did not end the kept answer"


def test_nothing_kept_before_a_lost_listener_is_served_after_it(
    settings: Settings, dbt: InProcessDbt, read_api: TestClient, auth: Auth
) -> None:
    user, order_id = f"deaf-{uuid.uuid4().hex[:6]}", str(uuid.uuid4())
    ingest_events(settings, [order_created(order_id, user, T0, customer_name="Ada")])
    dbt("run")
    publish_views(settings)
    freshness = read_api.app.state.freshness_cache  # type: ignore[attr-defined]
    assert _until(lambda: freshness.announced)
    params, headers = {"userId": user}, auth(user)
    assert read_api.get("/orders-with-invoices", params=params, headers=headers).status_code == 200

    # The listening connection is cut (as by a PostgreSQL restart or a network cut): what was
    # kept before may predate a publication missed meanwhile, so none of it is served again.
    cut = _listeners(settings)
    assert len(cut) == 1
    with connections.connect(settings, WAREHOUSE_DATABASE, autocommit=True) as admin:
        admin.execute("select pg_terminate_backend(%s)", (cut[0],))
    assert _until(lambda: len(_listeners(settings)) == 1 and _listeners(settings) != cut)
    assert _until(lambda: freshness.announced), "the listener did not listen again"
    _rename_behind_the_api(settings, order_id, "Grace")
    r = read_api.get("/orders-with-invoices", params=params, headers=headers)
    assert r.json()[0]["customerName"] == "Grace"


def _listeners(settings: Settings) -> list[int]:
    """Backends listening for publications (this test's read API's only: one per app)."""
    with connections.connect(settings, WAREHOUSE_DATABASE, autocommit=True) as admin:
        rows = admin.execute(
            "select pid from pg_stat_activity where application_name = %s",
            (APPLICATION_NAME,),
        ).fetchall()
    return [int(row[0]) for row in rows]


@pytest.mark.parametrize("fault", ["killed", "hung"])
def test_a_lost_or_hung_listener_stops_kept_answers_within_the_bound(
    fault: str, settings: Settings, dbt: InProcessDbt, read_api: TestClient, auth: Auth
) -> None:
    """A publication the listener does not hear (here: a change behind the API's back) is
    served within KEPT_ANSWERS_BOUND_S, whether its connection died or hangs silently."""
    user, order_id = f"{fault}-{uuid.uuid4().hex[:6]}", str(uuid.uuid4())
    ingest_events(settings, [order_created(order_id, user, T0, customer_name="Ada")])
    dbt("run")
    publish_views(settings)
    freshness = read_api.app.state.freshness_cache  # type: ignore[attr-defined]
    params, headers = {"userId": user}, auth(user)

    def name() -> str:
        r = read_api.get("/orders-with-invoices", params=params, headers=headers)
        assert r.status_code == 200, r.text
        return str(r.json()[0]["customerName"])

    assert _until(lambda: freshness.announced and len(_listeners(settings)) == 1)
    assert name() == "Ada"
    _rename_behind_the_api(settings, order_id, "Grace")
    assert name() == "Ada", "not kept: nothing to stop"
    [listener] = _listeners(settings)
    if fault == "killed":
        with connections.connect(settings, WAREHOUSE_DATABASE, autocommit=True) as admin:
            admin.execute("select pg_terminate_backend(%s)", (listener,))
    else:
        try:  # the backend stops answering; its socket stays open (a hung peer)
            os.kill(listener, signal.SIGSTOP)
        except PermissionError:
            pytest.skip("stopping a PostgreSQL backend needs its user's or root's rights")
    cut = time.monotonic()
    try:
        assert _until(lambda: name() == "Grace", KEPT_ANSWERS_BOUND_S + 2)
        assert time.monotonic() - cut <= KEPT_ANSWERS_BOUND_S + 0.5
    finally:
        if fault == "hung":
            os.kill(listener, signal.SIGCONT)
    assert _until(lambda: freshness.announced, 10), "the listener did not hear again"
    ready = read_api.get("/health/ready").json()["checks"]["kept_answers"]
    assert ready == {"ok": True, "detail": "on: publications are heard"}
