"""Start and stop the stack's own background processes, known by pid files that cannot lie."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import FrameType

import psutil

from stack.process_groups import group_members, stop_group


class StackError(RuntimeError):
    """A part of the stack failed; the message names the part and the reason."""


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def tail(path: Path, lines: int = 15) -> str:
    if not path.exists():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


MARK_VARIABLE = "CQRSW_PROCESS_MARK"
_SAME_START = 0.05  # seconds: create_time is read from /proc in clock ticks


class PidFile:
    """A process this stack started, known by pid, start time and a mark of this stack.

    A pid alone is not an identity: once the process is gone the kernel hands the number
    to another program, maybe another checkout's copy of the same command. The pid file
    records the process's start time as well, and ``marker`` (a part of its command line
    naming this stack's port or data folder) must match too. ``spawn`` also puts
    ``CQRSW_PROCESS_MARK=<state dir>#<name>`` in the child's environment; when it is
    readable it must be this stack's, so a look-alike process of another checkout, even
    one with the same command line, is never taken for ours.
    """

    def __init__(self, state_dir: Path, name: str, marker: str):
        self.path = state_dir / "pids" / f"{name}.pid"
        self.name = name
        self.marker = marker
        self.mark = f"{state_dir.resolve()}#{name}"

    def write(self, pid: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            started = psutil.Process(pid).create_time()
        except psutil.Error:
            started = time.time()
        self.path.write_text(json.dumps({"pid": pid, "create_time": started}) + "\n")

    def recorded(self) -> tuple[int, float | None] | None:
        """The pid and start time in the file; a bare pid (older files) has no start time."""
        try:
            text = self.path.read_text().strip()
        except FileNotFoundError:
            return None
        try:
            if text.isdigit():
                return int(text), None
            record = json.loads(text)
            return int(record["pid"]), float(record["create_time"])
        except (ValueError, KeyError, TypeError):
            return None

    def process(self) -> psutil.Process | None:
        """The live process, if the pid file points at one that is still ours."""
        record = self.recorded()
        if record is None:
            return None
        pid, started = record
        try:
            proc = psutil.Process(pid)
            if proc.status() == psutil.STATUS_ZOMBIE:
                return None
            if started is None:
                # An older pid file: the process must have started before it was written.
                started = proc.create_time() if proc.create_time() <= self._mtime() else -1.0
            if abs(proc.create_time() - started) > _SAME_START:
                return None  # the pid was reused by some other program: not ours to stop
            if not re.search(re.escape(self.marker) + r"(?!\d)", " ".join(proc.cmdline())):
                return None  # not the same command, or another port (8001 is not 80011)
            if not self._marked_ours(proc):
                return None
            return proc
        except psutil.Error:
            return None

    def remains(self) -> list[psutil.Process]:
        """What a process that died left running: the other members of its process group.

        A part killed with SIGKILL takes nothing with it: the Airflow scheduler's executor
        workers and the tasks they run live on as orphans, which the part started again
        knows nothing of (a task finishing twice, workers waiting forever on a dead queue).
        The kernel hands out no pid that still names a process group, so while such members
        live the group is the dead leader's; Airflow's processes rename themselves, which
        clears their environment, so the mark is checked only where it is still readable.
        """
        record = self.recorded()
        if record is None or self.process() is not None:
            return []
        pid, started = record
        if psutil.pid_exists(pid):
            return []  # the number belongs to another program now: not our group
        found = []
        for proc in group_members(pid):
            with contextlib.suppress(psutil.Error):
                if started is not None and proc.create_time() + _SAME_START < started:
                    continue
                if self._marked_ours(proc):
                    found.append(proc)
        return found

    def clear_remains(self, timeout: float = 10) -> int:
        """SIGTERM what ``remains`` finds, SIGKILL whoever is still there; how many there were."""
        left = self.remains()
        for proc in left:
            with contextlib.suppress(psutil.Error):
                proc.terminate()
        _, alive = psutil.wait_procs(left, timeout=timeout)
        for proc in alive:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        psutil.wait_procs(alive, timeout=5)
        return len(left)

    def died(self) -> bool:
        """True if the pid file says it runs but it does not: it died or was killed."""
        return self.recorded() is not None and self.process() is None

    def state(self) -> str:
        """up, down, or died: started, but gone without being stopped (`stack up` restarts it)."""
        if self.process() is not None:
            return "up"
        return "died" if self.died() else "down"

    def _mtime(self) -> float:
        try:
            return self.path.stat().st_mtime + 1
        except FileNotFoundError:
            return 0.0

    def _marked_ours(self, proc: psutil.Process) -> bool:
        try:
            mark = proc.environ().get(MARK_VARIABLE)
        except psutil.AccessDenied:
            return True  # nothing more to learn; pid, start time and command line matched
        return mark is None or mark == self.mark

    def stop(self, timeout: float = 15) -> bool:
        """Stop the process and its whole group; return True if one was running.

        SIGTERM to the group, then SIGKILL to every member still there after ``timeout``.
        """
        proc = self.process()
        if proc is not None:
            stop_group(proc, timeout)
        self.path.unlink(missing_ok=True)
        return proc is not None


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM until the block is done, then deliver them as usual.

    A handler rather than a blocked mask: children inherit the mask, not the handler.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []

    def hold(signum: int, _: FrameType | None) -> None:
        caught.append(signum)

    held = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, hold) for sig in held}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for signum in caught[:1]:
            signal.raise_signal(signum)


def spawn(
    pid_file: PidFile, argv: Sequence[str], log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start a detached process in its own session and group, logging to ``log``.

    Ctrl-C and SIGTERM are held back until the pid file is written, so an interrupted
    ``stack up`` always knows what it has to stop.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    child_env = {**(os.environ if env is None else env), MARK_VARIABLE: pid_file.mark}
    with signals_deferred():
        with log.open("ab") as out:
            proc = subprocess.Popen(
                list(argv),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env=child_env,
            )
        pid_file.write(proc.pid)
    _until_exec_done(proc.pid)
    return proc


def _until_exec_done(pid: int, timeout: float = 5) -> None:
    """Wait until the new command line shows, so a pid file check recognises the process.

    Popen returns once exec is past its point of no return; /proc shows an empty command
    line for a moment after that (long enough, on a loaded machine, to fail a check).
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).cmdline():
                return
        except psutil.Error:
            return  # gone already: whoever waits on it will see why
        time.sleep(0.005)


def wait_until(
    what: str,
    ready: Callable[[], bool],
    proc: subprocess.Popen[bytes] | None,
    log: Path,
    timeout: float,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise StackError(f"{what} exited with code {proc.returncode}:\n{tail(log)}")
        if ready():
            return
        time.sleep(0.2)
    raise StackError(f"{what} did not become ready within {timeout:.0f}s:\n{tail(log)}")
