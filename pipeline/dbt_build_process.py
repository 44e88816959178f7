"""The pipeline's ``dbt build`` as a process of its own: ``python -m pipeline.dbt_build_process
REPORT ARGS...`` runs ``dbtRunner().invoke(ARGS)`` and writes each node's outcome to REPORT.

Started by ``pipeline.dbt_runner`` with dbt's minimal environment
(``pipeline.dbt.dbt_process_env``): the build, and any model's ``env_var()``, sees the dbt
role's connection and nothing else of the Airflow task that started it. It imports dbt and
nothing of the project, so what it can read is what it was given.
"""

from __future__ import annotations

import json
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


def main(argv: list[str]) -> int:
    from dbt.cli.main import dbtRunner

    report, args = Path(argv[0]), argv[1:]
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
