"""Pid files that know their process, and stops that take its whole group (real processes)."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from config.settings import Settings
from stack.airflow import COMPONENTS
from stack.broker import kafka_pid_file
from stack.http_services import HTTP_SERVICES
from stack.lifecycle import Stack
from stack.process_groups import group_members
from stack.processes import MARK_VARIABLE, PidFile, signals_deferred, spawn
from tests.support.throwaway_stack import free_port

SLEEPER = "import time; time.sleep(120)"
# A leader with a child that ignores SIGTERM and renames itself as Airflow's workers do
# (setproctitle, an Airflow dependency), which blanks its /proc environment.
RENAMED = (
    "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import signal,"
    " time, setproctitle; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
    ' setproctitle.setproctitle("renamed worker"); time.sleep(120)\']); time.sleep(120)'
)
# A leader that ignores SIGTERM and leaves a child that ignores it too.
STUBBORN = (
    "import signal, subprocess, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
    " subprocess.Popen([sys.executable, '-c', 'import signal, time;"
    " signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(120)']); time.sleep(120)"
)


@pytest.fixture
def reaped() -> Iterator[list[psutil.Process]]:
    """Processes a test started; killed afterwards whatever happened."""
    procs: list[psutil.Process] = []
    yield procs
    for proc in procs:
        try:
            for child in proc.children(recursive=True):
                child.kill()
            proc.kill()
        except psutil.Error:
            pass


def start(
    state: Path,
    name: str,
    marker_args: list[str],
    reaped: list[psutil.Process],
    code: str = SLEEPER,
) -> tuple[PidFile, psutil.Process]:
    pid_file = PidFile(state, name, " ".join(marker_args))
    proc = spawn(pid_file, [sys.executable, "-c", code, *marker_args], state / f"{name}.log")
    reaped.append(psutil.Process(proc.pid))
    return pid_file, psutil.Process(proc.pid)


def test_the_pid_file_holds_pid_and_start_time(
    tmp_path: Path, reaped: list[psutil.Process]
) -> None:
    pid_file, proc = start(tmp_path, "svc", ["--port", "8001"], reaped)
    record = json.loads(pid_file.path.read_text())
    assert record == {"pid": proc.pid, "create_time": proc.create_time()}
    assert proc.environ()[MARK_VARIABLE] == f"{tmp_path.resolve()}#svc"
    assert pid_file.process() == proc
    assert pid_file.state() == "up"


def test_a_reused_pid_is_not_ours(tmp_path: Path, reaped: list[psutil.Process]) -> None:
    """Our process died and the kernel gave its pid to a look-alike: same command, later start."""
    pid_file, proc = start(tmp_path, "svc", ["--port", "8001"], reaped)
    pid_file.path.write_text(json.dumps({"pid": proc.pid, "create_time": proc.create_time() - 5}))
    assert pid_file.process() is None
    assert pid_file.state() == "died"
    assert not pid_file.stop(timeout=1)
    assert proc.is_running()


def test_another_port_is_another_process(tmp_path: Path, reaped: list[psutil.Process]) -> None:
    _, proc = start(tmp_path, "svc", ["--port", "80011"], reaped)
    ours = PidFile(tmp_path, "svc", "--port 8001")  # a prefix of the other's port
    assert ours.process() is None
    assert proc.is_running()


def test_an_old_bare_pid_file_needs_a_process_older_than_itself(
    tmp_path: Path, reaped: list[psutil.Process]
) -> None:
    pid_file, proc = start(tmp_path, "svc", ["--port", "8001"], reaped)
    pid_file.path.write_text(str(proc.pid))
    assert pid_file.process() == proc
    stale = time.time() - 60
    os.utime(pid_file.path, (stale, stale))  # written before this process started
    assert pid_file.process() is None


def test_stop_takes_the_whole_group_after_the_timeout(
    tmp_path: Path, reaped: list[psutil.Process]
) -> None:
    pid_file, leader = start(tmp_path, "stubborn", ["--port", "8001"], reaped, code=STUBBORN)
    deadline = time.monotonic() + 10
    while len(group_members(leader.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    members = group_members(leader.pid)
    assert len(members) == 2
    assert pid_file.stop(timeout=1)
    assert not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in members)
    assert not pid_file.path.exists()


def test_a_killed_leaders_orphans_are_its_remains_and_are_cleared(
    tmp_path: Path, reaped: list[psutil.Process]
) -> None:
    # The child's environment (and the mark in it) can no longer be read, as with Airflow's
    # workers: the dead leader's group alone says whose orphan it is.
    pid_file, leader = start(tmp_path, "scheduler", ["--port", "8001"], reaped, code=RENAMED)
    deadline = time.monotonic() + 10
    while len(group_members(leader.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    (child,) = [p for p in group_members(leader.pid) if p.pid != leader.pid]
    until = time.monotonic() + 10
    while MARK_VARIABLE in child.environ() and time.monotonic() < until:
        time.sleep(0.1)
    assert MARK_VARIABLE not in child.environ()  # renamed: the mark cannot be read
    assert pid_file.remains() == []  # the leader lives: nothing is left over yet

    leader.kill()
    leader.wait(10)

    assert pid_file.died()
    assert [p.pid for p in pid_file.remains()] == [child.pid]
    assert pid_file.clear_remains(timeout=1) == 1  # it ignores SIGTERM: SIGKILL after 1 s
    assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE
    assert pid_file.remains() == []


def test_stack_down_leaves_another_checkouts_look_alikes_running(
    tmp_path: Path, reaped: list[psutil.Process]
) -> None:
    """Our pid files point at processes of another checkout: `stack down` must not stop them."""
    ours = Settings(state_dir=tmp_path / "ours", kafka_port=free_port(), pg_port=free_port())
    theirs = tmp_path / "theirs"
    look_alikes = []
    # Another checkout's scheduler: the same command line, its own state dir in its mark;
    # our pid file names its pid, as a stale file does once the kernel reuses the number.
    scheduler = COMPONENTS[1].pid_file(ours)
    _, proc = start(theirs, "airflow-scheduler", ["airflow", "scheduler"], reaped)
    scheduler.path.parent.mkdir(parents=True, exist_ok=True)
    scheduler.path.write_text(json.dumps({"pid": proc.pid, "create_time": proc.create_time()}))
    look_alikes.append(proc)
    # Another checkout's broker on another port, named by a bare pid file of ours.
    their_port = ["--listener-url", f"tcp://127.0.0.1:{free_port()}"]
    _, proc = start(theirs, "kafka", their_port, reaped)
    kafka_pid_file(ours).path.write_text(str(proc.pid))
    look_alikes.append(proc)
    # And one of our own, which must go.
    orders = HTTP_SERVICES[0]
    own = orders.pid_file(ours)
    child = spawn(
        own, [sys.executable, "-c", SLEEPER, *orders.uvicorn_argv(ours)[3:]], tmp_path / "o"
    )
    reaped.append(psutil.Process(child.pid))

    status = Stack(ours).status()
    assert status["airflow-scheduler"].endswith(" died")
    assert status["kafka"].endswith(" died")
    assert status["orders"].endswith(" up")
    assert Stack(ours).down() == ["orders"]
    assert child.wait(timeout=10) is not None
    assert all(p.is_running() for p in look_alikes)


def test_ctrl_c_while_spawning_waits_until_the_pid_file_is_written(tmp_path: Path) -> None:
    # Python's own Ctrl-C handler, even where the suite was started in the background (a
    # shell then starts it with SIGINT ignored): the held signal must come back as the
    # KeyboardInterrupt a terminal's Ctrl-C gives.
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    reached = []
    try:
        with pytest.raises(KeyboardInterrupt), signals_deferred():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.2)  # a held signal does not interrupt this block
            reached.append("end of block")
    finally:
        signal.signal(signal.SIGINT, before)
    assert reached == ["end of block"]
