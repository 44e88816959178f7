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
    stages = re.findall(r"^FROM \$\{PYTHON_IMAGE\} AS (\w+)$", DOCKERFILE, re.MULTILINE)
    assert stages == ["build", "runtime"]


def test_runs_as_a_non_root_user_with_the_role_chosen_at_run_time() -> None:
    runtime = DOCKERFILE.split("AS runtime", 1)[1]
    users = re.findall(r"^USER (\S+)$", runtime, re.MULTILINE)
    assert users and all(not u.startswith(("root", "0")) for u in users)
    assert 'ENTRYPOINT ["python", "-m", "cqrsw.container"]' in runtime


def test_secrets_and_local_state_stay_out_of_the_build_context() -> None:
    assert {".env", ".venv", ".cqrsw", ".git", "dbt_project/target"} <= set(IGNORED)
