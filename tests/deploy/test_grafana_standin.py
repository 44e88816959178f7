"""The Grafana stand-in provisions the repository's files as Grafana does, and refuses what
Grafana refuses (deploy/standins/grafana). The podman run asks it the same over HTTP."""

from __future__ import annotations

import base64
import json
import shutil
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from config.settings import REPO_ROOT
from tests.support.dashboards import (
    GRAFANA,
    compose_mounts,
    grafana_standin,
    metrics_in,
    panel_datasources,
    queries,
    repo_dashboards,
    resolve_datasource,
)

standin = grafana_standin()
PASSWORD = "a-test-password"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    return loaded


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the Grafana folders laid out as compose mounts them in the container."""
    shutil.copytree(GRAFANA / "provisioning", tmp_path / "provisioning")
    shutil.copytree(GRAFANA / "dashboards", tmp_path / "dashboards")
    return tmp_path


def provision_copy(tree: Path) -> Any:
    mounts = {"/etc/grafana/dashboards": tree / "dashboards"}
    return standin.provision(tree / "provisioning", {}, mounts)


def edit_yaml(path: Path, change: Any) -> None:
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data))


def test_the_repository_s_files_provision_prometheus_and_every_dashboard(
    compose: dict[str, Any],
) -> None:
    grafana = compose["services"]["grafana"]
    mounts = compose_mounts(grafana)
    provisioning = mounts.pop("/etc/grafana/provisioning")
    done = standin.provision(provisioning, {}, mounts)
    (prometheus,) = [d for d in done.datasources if d["type"] == "prometheus"]
    assert prometheus["isDefault"] and prometheus["url"] == "http://prometheus:9090"
    assert set(done.dashboards) == set(repo_dashboards())
    for dashboard in repo_dashboards().values():
        for title, reference in panel_datasources(dashboard):
            assert resolve_datasource(reference, dashboard, done.datasources) == prometheus, title


@pytest.mark.parametrize(
    ("breaks", "reason"),
    [
        ("two-defaults", "Only one datasource per organization can be marked as default"),
        ("no-type", "needs a type"),
        ("bad-access", "is not proxy or direct"),
        ("bad-uid", "is not a valid uid"),
        ("missing-path", "cannot read directory"),
        ("folder-and-structure", "should be empty using 'foldersFromFilesStructure'"),
        ("untitled", "Dashboard title cannot be empty"),
        ("same-uid", "is used by"),
        ("broken-json", "not readable JSON"),
        ("broken-yaml", "not readable YAML"),
    ],
)
def test_a_file_grafana_would_refuse_stops_the_stand_in(
    tree: Path, breaks: str, reason: str
) -> None:
    datasources = tree / "provisioning" / "datasources" / "prometheus.yaml"
    providers = tree / "provisioning" / "dashboards" / "cqrs-warehouse.yaml"
    (dashboard,) = (tree / "dashboards").glob("*.json")
    provision_copy(tree)  # the copy as it is provisions
    if breaks == "two-defaults":
        second = {"name": "Other", "type": "prometheus", "url": "http://x", "isDefault": True}
        edit_yaml(datasources, lambda d: d["datasources"].append(second))
    elif breaks == "no-type":
        edit_yaml(datasources, lambda d: d["datasources"][0].pop("type"))
    elif breaks == "bad-access":
        edit_yaml(datasources, lambda d: d["datasources"][0].update(access="browser"))
    elif breaks == "bad-uid":
        edit_yaml(datasources, lambda d: d["datasources"][0].update(uid="no spaces/allowed"))
    elif breaks == "missing-path":
        edit_yaml(providers, lambda d: d["providers"][0]["options"].update(path="/nowhere"))
    elif breaks == "folder-and-structure":
        edit_yaml(
            providers,
            lambda d: d["providers"][0]["options"].update(foldersFromFilesStructure=True),
        )
    elif breaks == "untitled":
        dashboard.write_text(json.dumps({**json.loads(dashboard.read_text()), "title": ""}))
    elif breaks == "same-uid":
        shutil.copyfile(dashboard, dashboard.with_name("copy.json"))
    elif breaks == "broken-json":
        dashboard.write_text(dashboard.read_text()[:-20])
    elif breaks == "broken-yaml":
        datasources.write_text("datasources: [\n")
    with pytest.raises(standin.ProvisioningError, match=reason):
        provision_copy(tree)


def test_environment_references_are_expanded_as_grafana_does(tree: Path) -> None:
    datasources = tree / "provisioning" / "datasources" / "prometheus.yaml"
    edit_yaml(datasources, lambda d: d["datasources"][0].update(url="http://${PROM_HOST}:9090"))
    done = standin.provision(
        tree / "provisioning",
        {"PROM_HOST": "metrics"},
        {"/etc/grafana/dashboards": tree / "dashboards"},
    )
    assert done.datasources[0]["url"] == "http://metrics:9090"


@pytest.fixture
def served(tree: Path) -> Iterator[str]:
    handler = standin.make_handler(provision_copy(tree), "admin", PASSWORD)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_the_api_answers_as_grafana_s_for_the_admin_only(served: str) -> None:
    assert httpx.get(f"{served}/api/health").status_code == 200
    assert httpx.get(f"{served}/api/datasources").status_code == 401
    wrong = base64.b64encode(b"admin:guess").decode()
    assert (
        httpx.get(f"{served}/api/search", headers={"Authorization": f"Basic {wrong}"}).status_code
        == 401
    )
    client = httpx.Client(base_url=served, auth=("admin", PASSWORD))
    (source,) = client.get("/api/datasources").json()
    assert source["type"] == "prometheus" and source["isDefault"] is True
    hits = client.get("/api/search", params={"type": "dash-db"}).json()
    assert {h["uid"] for h in hits} == set(repo_dashboards())
    for hit in hits:
        answer = client.get(f"/api/dashboards/uid/{hit['uid']}").json()
        assert answer["meta"]["provisioned"] is True
        assert queries(answer["dashboard"]) == queries(repo_dashboards()[hit["uid"]])
        assert all(metrics_in(q) for q in queries(answer["dashboard"]))
    assert client.get("/api/dashboards/uid/nope").status_code == 404
