"""The project uses its libraries through their public APIs only: no private module or name
of Airflow, Cosmos, dbt, multiprocessing, kafka-python, confluent-kafka or Great Expectations,
no class swap, no fork, no underscore attribute of another object."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

from config.settings import REPO_ROOT

PACKAGES = (
    "config", "contracts", "cqrsw", "dags", "database", "ingest", "journeys", "loadtest",
    "pipeline", "quality", "services", "stack",
)  # fmt: skip
LIBRARIES = "airflow|cosmos|dbt|multiprocessing|kafka|confluent_kafka|great_expectations"
FORBIDDEN = re.compile(
    rf"__class__ *=|os\.fork\(|from ({LIBRARIES})[a-z_.]*\._|from ({LIBRARIES})[a-z_.]* import _"
)
# Underscore attributes read where no public API gives the same: each names what is missing,
# and a test that runs the line fails when the library changes it.
ALLOWED = {
    # argparse documents add_subparsers() but names no public type for what it returns.
    ("cqrsw/observe.py", "argparse._SubParsersAction"),
}


def sources() -> Iterator[tuple[str, str]]:
    for package in PACKAGES:
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            yield str(path.relative_to(REPO_ROOT)), path.read_text()


def test_the_forbidden_patterns_are_nowhere() -> None:
    found = [
        f"{name}:{number}: {line.strip()}"
        for name, text in sources()
        for number, line in enumerate(text.splitlines(), 1)
        if FORBIDDEN.search(line)
    ]
    assert found == []


def test_no_underscore_attribute_of_another_object_is_read_or_written() -> None:
    found = set()
    for name, text in sources():
        for node in ast.walk(ast.parse(text)):
            if not isinstance(node, ast.Attribute) or not node.attr.startswith("_"):
                continue
            if node.attr.startswith("__") or (
                isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")
            ):
                continue
            found.add((name, ast.unparse(node)))
    assert found - ALLOWED == set()


def test_the_check_catches_what_it_is_for() -> None:
    caught = [
        "task.__class__ = Other",
        "pid = os.fork()",
        "from cosmos.operators._watcher.state import x",
        "from multiprocessing.util import _run_finalizers",
        "from airflow.sdk.execution_time import _private",
    ]
    assert all(FORBIDDEN.search(line) for line in caught)
    assert not FORBIDDEN.search("from cosmos.operators.watcher import DbtRunWatcherOperator")
    assert Path(REPO_ROOT / "pipeline").is_dir()
