"""The producer's dbt build forked from its task (pipeline/tasks/forked_dbt.py) gives what
Cosmos reads from a dbt subprocess: the same JSON log, node by node, and the same exit code,
against the session's warehouse."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from cosmos.hooks.subprocess import FullOutputSubprocessHook, FullOutputSubprocessResult

from config.settings import DBT_PROJECT_DIR, Settings
from pipeline.dbt import dbt_env
from pipeline.tasks.forked_dbt import ForkedDbtHook

DBT = str(Path(sys.executable).with_name("dbt"))


def finished_nodes(result: FullOutputSubprocessResult) -> dict[str, str]:
    """unique_id -> status of every node dbt reported a result of, from its JSON log."""
    nodes = {}
    for line in result.full_output:
        event = json.loads(line)
        node = event.get("data", {}).get("node_info") or {}
        if event["info"]["name"] in ("LogModelResult", "LogTestResult"):
            nodes[node["unique_id"]] = node["node_status"]
    return nodes


def run(
    hook: FullOutputSubprocessHook, settings: Settings, project: Path, *args: str
) -> FullOutputSubprocessResult:
    command = [DBT, *args, "--log-format", "json", "--project-dir", str(project),
               "--profiles-dir", str(project)]  # fmt: skip
    seen: list[str] = []
    result: FullOutputSubprocessResult = hook.run_command(
        command, env=dbt_env(settings), cwd=str(project),
        process_log_line=lambda line, _: seen.append(line),
    )  # fmt: skip
    assert seen == result.full_output  # every line went to Cosmos's reader, as it came
    return result


def test_a_forked_build_logs_and_exits_as_the_dbt_command(
    settings: Settings, tmp_path: Path
) -> None:
    project = tmp_path / "project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    # the model and those of its tests that read no other model (not built here)
    select = ("build", "--select", "stg_orders__created", "--indirect-selection", "cautious",
              "--exclude", "resource_type:unit_test")  # fmt: skip
    forked = run(ForkedDbtHook(), settings, project, *select)
    spawned = run(FullOutputSubprocessHook(), settings, project, *select)
    assert forked.exit_code == spawned.exit_code == 0
    nodes = finished_nodes(forked)
    assert nodes == finished_nodes(spawned)
    assert nodes["model.cqrs_warehouse.stg_orders__created"] == "success"
    assert {s for n, s in nodes.items() if n.startswith("test.")} == {"pass"}  # its tests ran


def test_a_forked_dbt_that_cannot_start_exits_as_the_dbt_command(
    settings: Settings, tmp_path: Path
) -> None:
    shutil.copytree(DBT_PROJECT_DIR, tmp_path / "project", ignore=shutil.ignore_patterns("target"))
    forked = ForkedDbtHook().run_command([DBT, "build", "--no-such-flag"], env=dbt_env(settings),
                                         cwd=str(tmp_path / "project"))  # fmt: skip
    spawned = FullOutputSubprocessHook().run_command(
        [DBT, "build", "--no-such-flag"], env=dbt_env(settings), cwd=str(tmp_path / "project")
    )
    assert forked.exit_code == spawned.exit_code == 2
    assert "no-such-flag" in "\n".join(forked.full_output)
