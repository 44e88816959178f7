"""The Grafana files of the repository and the metric names their PromQL queries read.

Shared by the offline checks (tests/unit, tests/deploy) and the podman run (tests/deploy_run),
which asks the same of what the Grafana stand-in provisioned and what Prometheus scraped.
"""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from config.settings import REPO_ROOT

GRAFANA = REPO_ROOT / "deploy" / "grafana"
DASHBOARDS = GRAFANA / "dashboards"
STANDIN = REPO_ROOT / "deploy" / "standins" / "grafana" / "grafana_standin.py"
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or",
                "unless", "bool", "offset"}  # fmt: skip


def repo_dashboards() -> dict[str, dict[str, Any]]:
    """uid -> dashboard, for every dashboard file of the repository."""
    found: dict[str, dict[str, Any]] = {}
    for path in sorted(DASHBOARDS.rglob("*.json")):
        dashboard = json.loads(path.read_text())
        found[dashboard["uid"]] = dashboard
    return found


def metrics_in(expr: str) -> set[str]:
    """Metric names a PromQL expression reads: identifiers that are not functions or words."""
    expr = re.sub(r'"[^"]*"', "", expr)  # label values
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\b(by|without)\s*\([^)]*\)", "", expr)  # grouping labels
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # range selectors
    words = re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*(?!\s*\()\b", expr)
    return {w for w in words if w not in PROMQL_WORDS and not re.fullmatch(r"\d+\w*", w)}


def queries(dashboard: dict[str, Any]) -> list[str]:
    """Every PromQL ``expr`` anywhere in a dashboard (panels, rows, templating)."""
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("expr"), str):
                found.append(node["expr"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(dashboard)
    return found


def panel_datasources(dashboard: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(panel title, datasource reference) for every panel that queries."""
    found = []
    for panel in dashboard.get("panels", []):
        for inner in [panel, *panel.get("panels", [])]:
            if inner.get("targets"):
                found.append((str(inner.get("title")), dict(inner.get("datasource") or {})))
    return found


def resolve_datasource(
    reference: dict[str, Any], dashboard: dict[str, Any], datasources: list[dict[str, Any]]
) -> dict[str, Any] | None:
    """The datasource a panel's reference means, as Grafana resolves it: a literal uid, or a
    ``${variable}`` of type ``datasource`` whose query is a plugin type (its default one)."""
    uid = str(reference.get("uid") or "")
    variable = re.fullmatch(r"\$\{?(\w+)\}?", uid)
    if variable:
        for var in dashboard.get("templating", {}).get("list", []):
            if var.get("name") == variable.group(1) and var.get("type") == "datasource":
                of_type = [d for d in datasources if d["type"] == var.get("query")]
                chosen = [d for d in of_type if d.get("isDefault")] or of_type
                return chosen[0] if chosen else None
        return None
    if not uid:
        defaults = [d for d in datasources if d.get("isDefault")]
        return defaults[0] if defaults else None
    return next((d for d in datasources if d.get("uid") == uid), None)


def grafana_standin() -> ModuleType:
    """deploy/standins/grafana/grafana_standin.py, loaded from its file (it is no package)."""
    spec = importlib.util.spec_from_file_location("grafana_standin", STANDIN)
    assert spec is not None and spec.loader is not None
    module = sys.modules.get(spec.name)
    if module is None:
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # its dataclasses look their module up there
        spec.loader.exec_module(module)
    return module


def compose_mounts(grafana_service: dict[str, Any]) -> dict[str, Path]:
    """Container path -> repository folder, for the bind mounts compose gives Grafana."""
    mounts: dict[str, Path] = {}
    for volume in grafana_service.get("volumes", []):
        source, _, rest = str(volume).partition(":")
        if source.startswith("."):
            mounts[rest.split(":")[0]] = (REPO_ROOT / source).resolve()
    return mounts
