"""The producer's dbt build forked from its task (pipeline/tasks/forked_dbt.py) gives what
Cosmos reads from a dbt subprocess: the same JSON log, node by node, and the same exit code,
against the session's warehouse. The forking runs in a process of its own with one thread,
as an Airflow task is (this test process runs threads, where the hook does not fork)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

from cosmos.hooks.subprocess import FullOutputSubprocessHook, FullOutputSubprocessResult

from config.settings import DBT_PROJECT_DIR, Settings
from pipeline.dbt import dbt_env
from pipeline.tasks.forked_dbt import ForkedDbtHook

DBT = str(Path(sys.executable).with_name("dbt"))
# the model and those of its tests that read no other model (not built here)
BUILD = ["build", "--select", "stg_orders__created", "--indirect-selection", "cautious",
         "--exclude", "resource_type:unit_test", "--log-format", "json"]  # fmt: skip
# In a fresh process with one thread, with dbt imported first as the Airflow worker has it:
# the hook's result and whether it forked, as JSON on the last line.
IN_ONE_THREAD = """
import json, sys
import dbt.cli.main
from pipeline.tasks.forked_dbt import ForkedDbtHook, single_threaded
command, env, cwd = json.loads(sys.stdin.read())
assert single_threaded()
seen = []
hook = ForkedDbtHook()
result = hook.run_command(command, env=env, cwd=cwd, process_log_line=lambda l, _: seen.append(l))
print(json.dumps({"forked": hook.forked, "exit_code": result.exit_code,
                  "lines": result.full_output, "seen": seen}))
"""


def project(tmp_path: Path) -> Path:
    copy = tmp_path / "project"
    shutil.copytree(DBT_PROJECT_DIR, copy, ignore=shutil.ignore_patterns("target", "logs"))
    return copy


def command(copy: Path, *args: str) -> list[str]:
    return [DBT, *args, "--project-dir", str(copy), "--profiles-dir", str(copy)]


def forked(settings: Settings, copy: Path, *args: str) -> dict[str, object]:
    job = json.dumps([command(copy, *args), dbt_env(settings), str(copy)])
    done = subprocess.run(
        [sys.executable, "-c", IN_ONE_THREAD], input=job, capture_output=True, text=True,
        timeout=300, env={**os.environ, "PYTHONPATH": os.getcwd()},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    assert result["forked"] is True
    assert result["seen"] == result["lines"]  # every line went to Cosmos's reader, as it came
    return result


def results(lines: object) -> dict[str, str]:
    """unique_id -> status of every node dbt reported a result of, from its JSON log."""
    assert isinstance(lines, list)
    nodes = {}
    for line in lines:
        event = json.loads(line)
        node = event.get("data", {}).get("node_info") or {}
        if event["info"]["name"] in ("LogModelResult", "LogTestResult"):
            nodes[node["unique_id"]] = node["node_status"]
    return nodes


def spawned(settings: Settings, copy: Path, *args: str) -> FullOutputSubprocessResult:
    result: FullOutputSubprocessResult = FullOutputSubprocessHook().run_command(
        command(copy, *args), env=dbt_env(settings), cwd=str(copy)
    )
    return result


def test_a_forked_build_logs_and_exits_as_the_dbt_command(
    settings: Settings, tmp_path: Path
) -> None:
    copy = project(tmp_path)
    child = forked(settings, copy, *BUILD)
    process = spawned(settings, copy, *BUILD)
    assert child["exit_code"] == process.exit_code == 0
    nodes = results(child["lines"])
    assert nodes == results(process.full_output)
    assert nodes["model.cqrs_warehouse.stg_orders__created"] == "success"
    assert {s for n, s in nodes.items() if n.startswith("test.")} == {"pass"}  # its tests ran


def test_a_forked_dbt_that_cannot_start_exits_as_the_dbt_command(
    settings: Settings, tmp_path: Path
) -> None:
    copy = project(tmp_path)
    child = forked(settings, copy, "build", "--no-such-flag")
    assert child["exit_code"] == spawned(settings, copy, "build", "--no-such-flag").exit_code == 2
    assert "no-such-flag" in "\n".join(child["lines"])  # type: ignore[arg-type]


def test_a_process_with_threads_starts_dbt_as_a_new_process(
    settings: Settings, tmp_path: Path
) -> None:
    copy = project(tmp_path)
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        hook = ForkedDbtHook()
        result = hook.run_command(command(copy, "build", "--no-such-flag"),
                                  env=dbt_env(settings), cwd=str(copy))  # fmt: skip
    finally:
        stop.set()
        other.join()
    assert hook.forked is False
    assert result.exit_code == 2
