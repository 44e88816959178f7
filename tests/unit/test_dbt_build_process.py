"""The pipeline's dbt build process ends with the task that started it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from pipeline.dbt_build_process import die_with_parent

# A parent that starts a child bound to it by die_with_parent, prints the child's pid and waits.
PARENT = """
import os, subprocess, sys
child = subprocess.Popen([sys.executable, "-c", (
    "import sys, time; from pipeline.dbt_build_process import die_with_parent;"
    f"die_with_parent({os.getpid()}); print('bound', flush=True); time.sleep(120)"
)], stdout=subprocess.PIPE, text=True)
assert child.stdout is not None and child.stdout.readline() == "bound\\n"
print(child.pid, flush=True)
child.wait()
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie has ended: only its entry is left
        return stat.read().rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_PDEATHSIG is Linux's")
def test_a_build_dies_when_the_task_that_started_it_is_killed() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    assert alive(child)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(child)


def test_a_build_whose_parent_already_ended_does_not_start() -> None:
    with pytest.raises(SystemExit, match="has ended"):
        die_with_parent(os.getppid() + 1_000_000)
