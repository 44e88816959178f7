"""The pipeline's ``dbt build`` as a process of its own: ``python -m pipeline.dbt_build_process
PARENT_PID REPORT ARGS...`` runs ``dbtRunner().invoke(ARGS)`` and writes each node's outcome to
REPORT. It dies with PARENT_PID: a killed Airflow task leaves no build running beside the next
run's.

Started by ``pipeline.dbt_runner`` with dbt's minimal environment
(``pipeline.dbt.dbt_process_env``): the build, and any model's ``env_var()``, sees the dbt
role's connection and nothing else of the Airflow task that started it. It imports dbt and
nothing of the project, so what it can read is what it was given.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def outcomes(result: Any) -> Iterator[dict[str, str | None]]:
    """The nodes of a ``dbt build`` result (``RunExecutionResult.results``)."""
    for node_result in getattr(result, "results", None) or ():
        node = node_result.node
        yield {
            "unique_id": str(node.unique_id),
            "resource_type": str(node.resource_type),
            "status": str(node_result.status),
            "message": node_result.message,
        }


PR_SET_PDEATHSIG = 1  # prctl(2): the signal this process gets when its parent ends


def die_with_parent(parent: int) -> None:
    """Have Linux kill this process when ``parent`` ends, and end now if it already has.
    Elsewhere (no ``prctl``) the parent's own timeout is the only bound."""
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent:  # it ended before the line above took effect
        raise SystemExit(f"the process that started this build ({parent}) has ended")


def main(argv: list[str]) -> int:
    die_with_parent(int(argv[0]))
    from dbt.cli.main import dbtRunner

    report, args = Path(argv[1]), argv[2:]
    result = dbtRunner().invoke(args)
    report.write_text(
        json.dumps(
            {
                "success": result.success,
                "exception": None if result.exception is None else str(result.exception),
                "nodes": list(outcomes(result.result)),
            }
        )
    )
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
