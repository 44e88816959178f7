"""The Dockerfile and .dockerignore read as a reviewer would (no Docker engine here)."""

from __future__ import annotations

import re

from config.settings import REPO_ROOT

DOCKERFILE = (REPO_ROOT / "Dockerfile").read_text()
IGNORED = (REPO_ROOT / ".dockerignore").read_text().split()


def test_multi_stage_on_a_pinned_base_image() -> None:
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", DOCKERFILE, re.MULTILINE)
    assert base is not None
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+", base.group(1)), base.group(1)
    stages = re.findall(r"^FROM \$\{PYTHON_IMAGE\} AS ([\w-]+)$", DOCKERFILE, re.MULTILINE)
    assert stages == ["build-service", "build-pipeline", "runtime"]


def test_runs_as_a_non_root_user_with_the_role_chosen_at_run_time() -> None:
    runtime = DOCKERFILE.split("AS runtime", 1)[1]
    users = re.findall(r"^USER (\S+)$", runtime, re.MULTILINE)
    assert users and all(not u.startswith(("root", "0")) for u in users)
    assert 'ENTRYPOINT ["python", "-m", "cqrsw.container"]' in runtime


def test_secrets_and_local_state_stay_out_of_the_build_context() -> None:
    assert {".env", ".venv", ".cqrsw", ".git", "dbt_project/target"} <= set(IGNORED)
    # the private keys docs/running.md has a compose user make beside docker-compose.yml
    assert {"event-keys", "keys"} <= set(IGNORED)


def stage(name: str) -> str:
    """The instructions of one build stage, up to the next FROM."""
    start = re.search(rf"^FROM \S+ AS {name}$", DOCKERFILE, re.MULTILINE)
    assert start is not None, f"no stage {name}"
    rest = DOCKERFILE[start.end() :]
    following = re.search(r"^FROM ", rest, re.MULTILINE)
    return rest[: following.start()] if following else rest


def test_the_service_image_has_the_core_dependencies_only() -> None:
    installs = re.findall(r"pip install (.+)", stage("build-service"))
    lock = "--no-deps --require-hashes -r requirements/{}.lock"
    assert installs == [lock.format("service"), "--no-deps -e . && pip check"]
    installs = re.findall(r"pip install (.+)", stage("build-pipeline"))
    assert installs == [lock.format("pipeline"), "--no-deps -e . && pip check"]
    service, pipeline = stage("service"), stage("pipeline")
    assert "--from=build-service" in service and "build-pipeline" not in service
    assert "--from=build-pipeline" in pipeline and "build-service" not in pipeline
    # The dbt manifest the DAGs render from is made in the pipeline image only.
    assert "build_manifest" in pipeline and "build_manifest" not in service


def test_both_images_run_as_the_unprivileged_user_and_the_pipeline_one_is_the_default() -> None:
    finals = re.findall(r"^FROM runtime AS (\w+)$", DOCKERFILE, re.MULTILINE)
    assert finals == ["service", "pipeline"]  # the last stage is what a plain build gives
    for name in finals:
        assert re.search(r"^USER 10001:10001$", stage(name), re.MULTILINE), name


def test_the_dependencies_install_from_the_lock_alone() -> None:
    """What the dependency layer copies is the lock only: a code or README edit reuses it."""
    for name in ("build-service", "build-pipeline"):
        before = stage(name).split("RUN pip install --no-deps --require-hashes", 1)[0]
        copied = re.findall(r"^COPY (.+) \S+$", before, re.MULTILINE)
        assert copied and all(re.fullmatch(r"requirements/\w+\.lock", c) for c in copied), name
