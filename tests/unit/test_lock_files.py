"""The hashed lock files are current with pyproject.toml: every requirement in, in its bounds."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from config.settings import REPO_ROOT

PROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
NAME = canonicalize_name(PROJECT["name"])
ENTRY = re.compile(r"^([A-Za-z0-9_.\[\],-]+)==([^\s;\\]+)(?:\s*;\s*([^\\]+?))?\s*\\?$", re.M)


def requirements(*extras: str) -> list[Requirement]:
    """The project's requirements with these extras, the project's own extras unfolded."""
    found: list[Requirement] = []
    for text in [
        *PROJECT["dependencies"],
        *(r for e in extras for r in PROJECT["optional-dependencies"][e]),
    ]:
        req = Requirement(text)
        if canonicalize_name(req.name) == NAME:
            found += requirements(*sorted(req.extras))
        else:
            found.append(req)
    return found


def pins(lock: Path) -> dict[str, list[Version]]:
    """Each locked package's versions (a universal lock may pin one per platform)."""
    text = lock.read_text()
    locked: dict[str, list[Version]] = {}
    for name, version, _marker in ENTRY.findall(text):
        locked.setdefault(canonicalize_name(name.split("[")[0]), []).append(Version(version))
    return locked


LOCKS = {
    "service.lock": requirements(),
    "pipeline.lock": requirements("pipeline"),
    "dev.lock": requirements("dev"),
}


@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_every_requirement_is_locked_within_its_bounds(lock: str) -> None:
    locked = pins(REPO_ROOT / "requirements" / lock)
    problems = []
    for req in LOCKS[lock]:
        versions = locked.get(canonicalize_name(req.name))
        if not versions:
            problems.append(f"{req.name} is not in {lock}")
        elif not any(req.specifier.contains(v, prereleases=True) for v in versions):
            problems.append(f"{req.name} {[str(v) for v in versions]} is outside {req.specifier}")
    assert problems == [], "run `make lock`: " + "; ".join(problems)


@pytest.mark.parametrize("lock", sorted(LOCKS))
def test_every_locked_package_has_hashes(lock: str) -> None:
    blocks = re.split(r"\n(?=\S)", (REPO_ROOT / "requirements" / lock).read_text())
    entries = [b for b in blocks if not b.startswith("#")]
    assert entries
    assert [b.split()[0] for b in entries if "--hash=sha256:" not in b] == []


def test_the_service_lock_holds_no_orchestration() -> None:
    locked = pins(REPO_ROOT / "requirements" / "service.lock")
    assert not {"apache-airflow", "dbt-core", "great-expectations"} & set(locked)


def test_the_image_locks_agree_with_the_development_lock() -> None:
    dev = pins(REPO_ROOT / "requirements" / "dev.lock")
    for lock in ("service.lock", "pipeline.lock"):
        for name, versions in pins(REPO_ROOT / "requirements" / lock).items():
            assert set(versions) <= set(dev[name]), (lock, name)


def test_the_pyjwt_with_the_issuer_substring_bug_cannot_be_installed() -> None:
    bound = next(r for r in requirements() if canonicalize_name(r.name) == "pyjwt")
    assert not bound.specifier.contains("2.10.0")  # CVE-2024-53861
    assert all(
        v >= Version("2.10.1") for v in pins(REPO_ROOT / "requirements" / "dev.lock")["pyjwt"]
    )
