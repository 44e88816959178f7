"""The pipeline's one ``dbt build``, in a process forked from its task instead of a new one.

Cosmos's watcher producer runs dbt as a subprocess and reads its JSON log line by line
while it runs (``FullOutputSubprocessHook``). A new ``dbt`` process spends about 3 s on a
2-core machine importing dbt before it builds anything, in every run of the pipeline. The
task itself comes from a LocalExecutor worker that imported dbt once
(``stack.airflow.PRELOADED``): a child forked from it starts with dbt in memory and runs
it with ``dbtRunner``, writing the same log to the same pipe. Everything else (the log
parsing, the XComs, the exit code, SIGTERM to the process group) stays Cosmos's.

Only a process that runs one thread forks: the child keeps only the forking thread, so a
lock another thread held would never be released there (seen: dbt's Rust parser waiting
for its thread pool in a pytest process that had run dbt before). A process with threads
starts ``dbt`` as Cosmos does.

In-process ``dbtRunner`` is not an option: there Cosmos pushes each node's result from
dbt's callback under a lock that dbt's threads wait for (docs/benchmarks.md).
"""

from __future__ import annotations

import contextlib
import io
import logging
import multiprocessing.resource_tracker
import multiprocessing.util
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable
from functools import cached_property
from typing import Any

from cosmos.hooks.subprocess import FullOutputSubprocessHook, FullOutputSubprocessResult
from cosmos.operators.watcher import DbtProducerWatcherOperator

# dbt's exit codes: 0 success, 1 a node failed, 2 dbt itself failed (cli/main.py).
DBT_FAILED = 1
DBT_ERROR = 2


class ForkedProcess:
    """What Cosmos's hook keeps of its ``Popen``: the pid, to signal the process group."""

    def __init__(self, pid: int) -> None:
        self.pid = pid


def dbt_exit_code(success: bool, exception: BaseException | None) -> int:
    """The exit code the ``dbt`` command gives for a ``dbtRunner`` result."""
    if exception is not None:
        return DBT_ERROR
    return 0 if success else DBT_FAILED


def _run_dbt_in_child(args: list[str], env: dict[str, str], cwd: str, out_fd: int) -> None:
    """In the forked child: dbt with ``args``, its output to ``out_fd``; never returns."""
    code = DBT_ERROR
    inherited: list[Any] = []
    try:
        os.setsid()  # its own process group, as Cosmos's pre_exec gives the subprocess
        for name in ("SIGPIPE", "SIGXFSZ", "SIGTERM", "SIGINT"):
            signal.signal(getattr(signal, name), signal.SIG_DFL)
        os.dup2(out_fd, 1)
        os.dup2(out_fd, 2)
        # Nothing of the task's own channels (the supervisor's sockets, the log) stays open:
        # a stray write from the child must not land in them.
        os.closerange(3, os.sysconf("SC_OPEN_MAX"))
        # The task's own streams stay referenced until the child ends: collected, they would
        # close the descriptors they wrap, 1 and 2, now dbt's output.
        inherited.extend((sys.stdout, sys.stderr))
        sys.stdout = sys.stderr = io.TextIOWrapper(
            io.FileIO(1, "w", closefd=False), line_buffering=True, errors="backslashreplace"
        )
        logging.root.handlers = [logging.StreamHandler(sys.stdout)]
        os.chdir(cwd)
        os.environ.clear()
        os.environ.update(env)
        _own_multiprocessing_state()
        from dbt.cli.main import dbtRunner

        result = dbtRunner().invoke(args)
        if result.exception is not None:  # the dbt command prints it (a bad flag, a bad profile)
            print(f"Error: {result.exception}")
        code = dbt_exit_code(result.success, result.exception)
    except BaseException:  # the child reports everything on its output
        with contextlib.suppress(BaseException):
            traceback.print_exc()
    finally:
        # Not the task's exit handlers, which are not the child's to run: only what dbt
        # left to clean up (its locks' named semaphores), as a dbt process does at exit.
        with contextlib.suppress(BaseException):
            multiprocessing.util._run_finalizers()  # type: ignore[attr-defined]
        with contextlib.suppress(BaseException):
            sys.stdout.flush()
        os._exit(code)


def _own_multiprocessing_state() -> None:
    """Forget the task's multiprocessing state in the child: dbt's locks ("spawn" context
    semaphores) go to a resource tracker of the child's own (the task's pipe to its tracker
    is closed), and only their finalizers run at the child's end."""
    tracker: Any = multiprocessing.resource_tracker._resource_tracker
    tracker._fd = tracker._pid = None
    multiprocessing.util._finalizer_registry.clear()  # type: ignore[attr-defined]


def single_threaded() -> bool:
    """Whether this process runs one thread only, native ones included."""
    try:
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:  # no /proc: Python's own threads are all it can tell
        return threading.active_count() == 1


class ForkedDbtHook(FullOutputSubprocessHook):  # type: ignore[misc]
    """Cosmos's subprocess hook that forks for ``dbt`` (see the module), when this process
    runs one thread only; otherwise, and for any other command, Cosmos's own."""

    forked = False  # whether the last command ran in a forked child

    def run_command(
        self,
        command: list[str],
        env: dict[str, str] | None = None,
        output_encoding: str = "utf-8",
        cwd: str | None = None,
        process_log_line: Callable[[str, Any], None] | None = None,
        **kwargs: Any,
    ) -> FullOutputSubprocessResult:
        self.forked = cwd is not None and os.path.basename(str(command[0])) == "dbt"
        if self.forked and not single_threaded():
            # A fork keeps only the forking thread: a lock another thread held (dbt's Rust
            # parser keeps a pool of threads once it ran) would never be released in the child.
            self.log.info("This process runs threads: dbt starts as a new process instead")
            self.forked = False
        if not self.forked or cwd is None:  # (``forked`` implies a cwd; mypy does not see it)
            return super().run_command(
                command, env, output_encoding, cwd, process_log_line, **kwargs
            )
        args = [str(part) for part in command[1:]]
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_fd)
            _run_dbt_in_child(args, dict(env if env is not None else os.environ), cwd, write_fd)
        os.close(write_fd)
        self.sub_process = ForkedProcess(pid)
        self.log.info("Running dbt in process %d forked from this task: dbt %s", pid, args)
        kwargs.setdefault("project_dir", cwd)
        lines: list[str] = []
        with open(read_fd, encoding=output_encoding, errors="backslashreplace") as output:
            for raw in output:
                line = raw.rstrip("\n")
                lines.append(line)
                if process_log_line:
                    process_log_line(line, kwargs)
                else:
                    self.log.info("%s", line)
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
        self.log.info("dbt exited with return code %s after %d lines", code, len(lines))
        if code != 0:
            plain = [line for line in lines if not line.startswith("{")]  # not dbt's JSON log
            if plain:
                self.log.error("dbt's own output:\n%s", "\n".join(plain[-40:]))
        return FullOutputSubprocessResult(
            exit_code=code, output=lines[-1] if lines else "", full_output=lines
        )


class ForkingDbtProducer(DbtProducerWatcherOperator):  # type: ignore[misc]
    """Cosmos's watcher producer whose ``dbt build`` runs in a forked child."""

    @cached_property
    def subprocess_hook(self) -> FullOutputSubprocessHook:
        return ForkedDbtHook()
