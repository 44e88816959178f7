"""Start and stop the stack's own background processes, tracked by pid files."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import psutil


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


class PidFile:
    """A process this stack started: its pid and a marker its command line must contain."""

    def __init__(self, state_dir: Path, name: str, marker: str):
        self.path = state_dir / "pids" / f"{name}.pid"
        self.name = name
        self.marker = marker

    def write(self, pid: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(str(pid))

    def process(self) -> psutil.Process | None:
        """The live process, if the pid file points at one that is still ours."""
        try:
            pid = int(self.path.read_text())
            proc = psutil.Process(pid)
            if proc.status() == psutil.STATUS_ZOMBIE:
                return None
            if self.marker not in " ".join(proc.cmdline()):
                return None  # the pid was reused by some other program: not ours to stop
            return proc
        except (FileNotFoundError, ValueError, psutil.Error):
            return None

    def stop(self, timeout: float = 15) -> bool:
        """Terminate the process (then kill it); return True if one was running."""
        proc = self.process()
        self.path.unlink(missing_ok=True)
        if proc is None:
            return False
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            proc.terminate()
        try:
            proc.wait(timeout)
        except psutil.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        return True


def spawn(
    pid_file: PidFile, argv: Sequence[str], log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start a detached process in its own session, logging to ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            list(argv),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=env,
        )
    pid_file.write(proc.pid)
    return proc


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
