"""A stack on free ports: Ctrl-C during `stack up` leaves nothing, a part that dies comes back."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from config.settings import Settings
from services.tokens import issue_token
from stack import airflow
from stack.http_services import HTTP_SERVICES
from stack.lifecycle import Stack
from stack.processes import MARK_VARIABLE, PidFile, StackError
from stack.supervisor import RestartBudgetSpent, Supervisor
from tests.support.throwaway_stack import free_port

pytestmark = pytest.mark.slow
CQRSW = Path(sys.executable).with_name("cqrsw")
PORTS = ("PG", "KAFKA", "ORDERS", "INVOICES", "STOCK", "READ_API", "AIRFLOW")


@pytest.fixture
def state_dir() -> Iterator[Path]:
    # Not under pytest's tmp_path: the server runs as another system user when we are root.
    with tempfile.TemporaryDirectory(prefix="cqrsw-sup-", ignore_cleanup_errors=True) as state:
        yield Path(state)


def marked(state: Path) -> list[psutil.Process]:
    """Live processes whose mark names this state dir: what a stack there started."""
    prefix = f"{state.resolve()}#"
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get(MARK_VARIABLE, "").startswith(prefix):
                found.append(proc)
        except psutil.Error:
            continue
    return found


def test_ctrl_c_during_stack_up_stops_what_it_started(state_dir: Path) -> None:
    env = {
        **os.environ,
        "CQRSW_STATE_DIR": str(state_dir),
        **{f"CQRSW_{name}_PORT": str(free_port()) for name in PORTS},
    }
    # A suite started in the background (`make test &`) runs with SIGINT ignored, and a
    # child inherits that: `stack up` would never see the Ctrl-C. Python's own handler here
    # becomes the default one in the child.
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        up = subprocess.Popen(
            [str(CQRSW), "stack", "up", "--services"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
    finally:
        signal.signal(signal.SIGINT, before)
    try:
        # Interrupt while a service has been spawned but is not yet healthy.
        pid_file = PidFile(state_dir, "orders", marker="")
        deadline = time.monotonic() + 120
        while (record := pid_file.recorded()) is None:
            assert up.poll() is None, up.communicate()[0]
            assert time.monotonic() < deadline, "orders was never started"
            time.sleep(0.05)
        # Only the spawned service is looked at before the interrupt: reading every
        # process's environment takes long enough on a loaded machine for `stack up` to
        # finish first.
        mark = psutil.Process(record[0]).environ().get(MARK_VARIABLE, "")
        up.send_signal(signal.SIGINT)
        assert mark == pid_file.mark, "the spawned parts carry the mark of this state dir"
        output, _ = up.communicate(timeout=120)
    finally:
        if up.poll() is None:
            up.kill()
    assert up.returncode == 130, output
    assert "interrupted" in output
    assert marked(state_dir) == []
    status = Stack(Settings(state_dir=state_dir, **_ports(env))).status()
    assert {part: where.rsplit(" ", 1)[1] for part, where in status.items()} == {
        part: "down" for part in status
    }


def _ports(env: dict[str, str]) -> dict[str, Any]:
    return {f"{name.lower()}_port": int(env[f"CQRSW_{name}_PORT"]) for name in PORTS}


def test_the_supervisor_restarts_a_part_that_died(state_dir: Path) -> None:
    settings = _settings_on_free_ports(state_dir)
    stack = Stack(settings)
    supervisor = Supervisor(stack, services=True, airflow=False)
    try:
        supervisor.up()
        for part in ("kafka", "orders"):
            victim = psutil.Process(_pid(state_dir, part))
            victim.kill()
            victim.wait(10)  # a child of this test: reaped here
        assert sorted(stack.died()) == ["kafka", "orders"]
        assert sorted(supervisor.check()) == ["kafka", "orders"]
        status = stack.status()
        started = ("postgres", "kafka", *(service.name for service in HTTP_SERVICES))
        assert all(status[part].endswith(" up") for part in started), status
        assert supervisor.check() == []
    finally:
        stopped = supervisor.stop()
    assert {"postgres", "kafka", "orders", "read_api"} <= set(stopped)
    assert marked(state_dir) == []


def test_the_supervisor_brings_back_a_crashed_postgres_and_the_services_reconnect(
    state_dir: Path,
) -> None:
    settings = _settings_on_free_ports(state_dir)
    stack = Stack(settings)
    supervisor = Supervisor(stack, services=True, airflow=False)
    token = issue_token(settings, "pat", roles=("customer", "stock"))
    auth = {"Authorization": f"Bearer {token}"}
    try:
        supervisor.up()
        postmaster = psutil.Process(_pid(state_dir, "postgres"))
        postmaster.kill()  # a crash: no shutdown checkpoint, its backends left to notice
        postmaster.wait(10)
        assert stack.died() == ["postgres"]
        restarted: list[str] = []
        deadline = time.monotonic() + 90
        while not restarted:
            assert time.monotonic() < deadline, "postgres was not brought back"
            try:
                restarted = supervisor.check()
            except RestartBudgetSpent:
                raise
            except StackError:
                time.sleep(1)  # the old backends still hold the shared memory
        assert restarted == ["postgres"]
        assert stack.status()["postgres"].endswith(" up")
        # The services were not restarted: their pools notice the new server by themselves.
        placed = httpx.post(
            f"http://127.0.0.1:{settings.orders_port}/orders",
            json={"customer_name": "Pat"},
            headers=auth,
            timeout=30,
        )
        assert placed.status_code == 201, placed.text
        stocked = httpx.post(
            f"http://127.0.0.1:{settings.stock_port}/products/sku-1/stock-operations",
            json={"operation": "increase", "amount": 3},
            headers=auth,
            timeout=30,
        )
        assert stocked.status_code == 201, stocked.text
    finally:
        stopped = supervisor.stop()
    assert "postgres" in stopped
    assert marked(state_dir) == []


def test_the_supervisor_brings_back_a_killed_airflow_scheduler(state_dir: Path) -> None:
    settings = _settings_on_free_ports(state_dir)
    stack = Stack(settings)
    supervisor = Supervisor(stack, services=False, airflow=True)
    try:
        supervisor.up()
        scheduler = _pid(state_dir, "airflow-scheduler")
        os.killpg(scheduler, signal.SIGKILL)  # the scheduler and its executor's workers
        psutil.Process(scheduler).wait(10)
        assert stack.died() == ["airflow-scheduler"]
        assert supervisor.check() == ["airflow-scheduler"]
        assert _pid(state_dir, "airflow-scheduler") != scheduler
        assert stack.status()["airflow-scheduler"].endswith(" up")
        deadline = time.monotonic() + 90
        while airflow.health(settings).get("scheduler") != "healthy":
            assert time.monotonic() < deadline, airflow.health(settings)
            time.sleep(2)
        assert supervisor.check() == []
    finally:
        stopped = supervisor.stop()
    assert {"postgres", "kafka", "airflow-api-server", "airflow-scheduler"} <= set(stopped)
    assert marked(state_dir) == []


def _settings_on_free_ports(state_dir: Path) -> Settings:
    ports: dict[str, Any] = {f"{name.lower()}_port": free_port() for name in PORTS}
    return Settings(state_dir=state_dir, relay_enabled=False, **ports)


def _pid(state: Path, part: str) -> int:
    return int(json.loads((state / "pids" / f"{part}.pid").read_text())["pid"])
