"""Stop a process and everything it started: its whole process group, not only the leader."""

from __future__ import annotations

import contextlib
import os
import signal

import psutil


def group_members(pgid: int) -> list[psutil.Process]:
    """Every live process in the process group ``pgid`` (the leader too, while it lives)."""
    members = []
    for proc in psutil.process_iter():
        with contextlib.suppress(psutil.Error, OSError):
            if os.getpgid(proc.pid) == pgid and proc.status() != psutil.STATUS_ZOMBIE:
                members.append(proc)
    return members


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def stop_group(leader: psutil.Process, timeout: float) -> None:
    """SIGTERM the leader's group, wait up to ``timeout``, then SIGKILL whoever is left.

    A process started in a session of its own (``spawn``) leads a group that holds all its
    children, also those whose parent died. When the leader does not lead a group (a
    server started by another tool), it and its descendants are stopped instead.
    """
    try:
        pgid = os.getpgid(leader.pid)
    except ProcessLookupError:
        return
    group = pgid == leader.pid
    members = [leader]
    if group:
        members = group_members(pgid)
        _signal_group(pgid, signal.SIGTERM)
    else:
        with contextlib.suppress(psutil.Error):
            members += leader.children(recursive=True)
        for proc in members:
            with contextlib.suppress(psutil.Error):
                proc.terminate()
    _, alive = psutil.wait_procs(members, timeout=timeout)
    if group:
        # Also members forked after the first look, and children the leader left behind.
        alive = group_members(pgid)
        if alive:
            _signal_group(pgid, signal.SIGKILL)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()
    psutil.wait_procs(alive, timeout=5)
