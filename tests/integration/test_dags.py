"""Every DAG imports cleanly and has the tasks and order the pipeline promises."""

from __future__ import annotations

import json
import sys

from cqrsw.airflow import airflow_env
from services.settings import Settings

PARSE = """
import json
from airflow.dag_processing.dagbag import DagBag
bag = DagBag()
print(json.dumps({
    "errors": {k: str(v) for k, v in bag.import_errors.items()},
    "dags": {
        dag_id: {t.task_id: sorted(t.downstream_task_ids) for t in dag.tasks}
        for dag_id, dag in bag.dags.items()
    },
    "catchup": {dag_id: dag.catchup for dag_id, dag in bag.dags.items()},
}))
"""


def parse_dags(settings: Settings) -> dict[str, dict[str, object]]:
    import subprocess

    done = subprocess.run(
        [sys.executable, "-c", PARSE], env=airflow_env(settings), capture_output=True, text=True,
        check=True,
    )  # fmt: skip
    result: dict[str, dict[str, object]] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_pipeline_dag_imports_with_its_tasks_in_order(settings: Settings) -> None:
    parsed = parse_dags(settings)
    assert parsed["errors"] == {}
    assert parsed["dags"]["cqrs_warehouse_pipeline"] == {
        "ingest": ["dbt_build"],
        "dbt_build": ["publish"],
        "publish": [],
    }
    assert parsed["catchup"]["cqrs_warehouse_pipeline"] is False
