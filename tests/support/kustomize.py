"""deploy/k8s overlays rendered with kubectl's built-in kustomize, as ``kubectl apply -k``
would apply them. The local overlay's event keys are made first when missing, as a user
makes them (``make k8s-local-keys``): they live beside it, git-ignored, never committed."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from config.settings import REPO_ROOT
from contracts.key_files import ensure_local_keys

OVERLAYS = REPO_ROOT / "deploy" / "k8s" / "overlays"
LOCAL_EVENT_KEYS = OVERLAYS / "local" / "event-keys"


class RenderError(RuntimeError):
    """kubectl is missing or kustomize refused the overlay; the message says which."""


def render(overlay: str, overlays: Path = OVERLAYS) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        raise RenderError("kubectl (with its built-in kustomize) is missing: `make kubectl`")
    if overlay == "local":
        ensure_local_keys(overlays / "local" / "event-keys")  # kept when there
    done = subprocess.run(
        [kubectl, "kustomize", str(overlays / overlay)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RenderError(done.stderr)
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]
