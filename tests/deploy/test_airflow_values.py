"""The Airflow Helm values run with the pipeline image's packages: executor and users job.

The chart's KubernetesExecutor and its users job (`airflow users create`) need providers that
Airflow itself does not bring; the pipeline image installs the core plus the ``pipeline``
extra, which the dev venv has too. The users job is run here as the chart runs it, through
the image's entrypoint, against a throwaway metadata database.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
import yaml
from packaging.requirements import Requirement

from config.settings import REPO_ROOT, Settings
from stack.airflow import ADMIN_USER

VALUES: dict[str, Any] = yaml.safe_load(
    (REPO_ROOT / "deploy" / "k8s" / "airflow" / "values.yaml").read_text()
)
PIPELINE_EXTRA = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"][
    "optional-dependencies"
]["pipeline"]
ADMIN_PASSWORD_VARIABLE = "CQRSW_" + "airflow_admin_password".upper()


def in_pipeline_image(distribution: str) -> bool:
    return distribution in {Requirement(r).name for r in PIPELINE_EXTRA}


def test_the_kubernetes_executor_is_in_the_pipeline_image() -> None:
    assert VALUES["executor"] == "KubernetesExecutor"
    assert in_pipeline_image("apache-airflow-providers-cncf-kubernetes")
    module = "airflow.providers.cncf.kubernetes.executors.kubernetes_executor"
    assert importlib.util.find_spec(module) is not None
    # The provider works with the Airflow the values name (pip resolved them together).
    (airflow,) = [r for r in PIPELINE_EXTRA if Requirement(r).name == "apache-airflow"]
    assert Requirement(airflow).specifier.contains(VALUES["airflowVersion"])
    assert metadata.version("apache-airflow") == VALUES["airflowVersion"]


def test_the_auth_manager_is_one_the_image_has() -> None:
    auth_manager = VALUES["config"]["core"]["auth_manager"]
    module, _, _ = auth_manager.rpartition(".")
    assert module.startswith("airflow.providers.fab.")
    assert in_pipeline_image("apache-airflow-providers-fab")
    assert importlib.util.find_spec(module) is not None


def test_the_users_job_takes_the_admin_from_the_project_settings() -> None:
    assert VALUES["webserver"]["defaultUser"]["enabled"] is True
    assert VALUES["createUserJob"]["applyCustomEnv"] is True  # extraEnvFrom: cqrsw-secrets
    command = " ".join(VALUES["createUserJob"]["args"])
    assert f"--username {ADMIN_USER} " in command
    assert f'--password "${ADMIN_PASSWORD_VARIABLE}"' in command
    assert "airflow_admin_password" in Settings.model_fields
    assert "password:" not in yaml.safe_dump(VALUES["webserver"])  # no password in the file


def airflow_config_env(home: Path) -> dict[str, str]:
    """The values' `config:` as Airflow reads it from the environment, on a throwaway home."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW", "CQRSW_")) and k != "PYTHONPATH"
    }
    env.update(
        {
            f"AIRFLOW__{section.upper()}__{key.upper()}": str(value)
            for section, options in VALUES["config"].items()
            for key, value in options.items()
        }
    )
    env["AIRFLOW_HOME"] = str(home)
    env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{home / 'airflow.db'}"
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.mark.slow
def test_the_users_job_creates_the_admin_with_the_image_s_entrypoint(tmp_path: Path) -> None:
    env = airflow_config_env(tmp_path)
    airflow = str(Path(sys.executable).with_name("airflow"))
    migrated = run([airflow, "db", "migrate"], env)
    assert migrated.returncode == 0, migrated.stderr[-2000:]
    job = run(
        [sys.executable, "-m", "cqrsw.container", *VALUES["createUserJob"]["args"]],
        {**env, ADMIN_PASSWORD_VARIABLE: "a-long-enough-test-password"},
    )
    assert job.returncode == 0, job.stdout[-2000:] + job.stderr[-2000:]
    listed = run([airflow, "users", "list", "--output", "json"], env)
    assert listed.returncode == 0, listed.stderr[-2000:]
    users = json.loads(listed.stdout[listed.stdout.index("[") :])
    assert [(u["username"], u["roles"]) for u in users] == [(ADMIN_USER, ["Admin"])]
