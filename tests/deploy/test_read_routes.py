"""Every read route of the read API is routed at the edge: the Ingress sends it to the nginx
gateway (compose's and the cluster's, one routing file), which sends it to the read API.

The routes are not listed here: they are the read API's own public GET paths (its OpenAPI
schema, health and the token check left out), so a new read route fails these tests until
the gateway routes it.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from services.read_api.app import create_app
from stack.gateway import TEMPLATE
from tests.deploy.test_kubernetes_manifests import GATEWAY, of_kind, render

EDGE_ONLY = ("/health", "/auth/")
# Commands that must keep reaching their write service, beside the reads.
COMMANDS = {"/orders": "orders", "/invoices": "invoices", "/products/p-1/stock-operations": "stock"}


def read_paths() -> list[str]:
    """Public GET paths of the read API, with a sample value in each path parameter."""
    schema: dict[str, Any] = create_app().openapi()
    paths = [
        re.sub(r"\{[^}]+\}", "p-1", path)
        for path, operations in schema["paths"].items()
        if "get" in operations and not path.startswith(EDGE_ONLY)
    ]
    return sorted(paths)


def gateway_upstream(path: str) -> str | None:
    """The upstream nginx proxies ``path`` to: exact locations, then regexes in order."""
    config = TEMPLATE.read_text()
    blocks = re.findall(r"^    location (=|~) (\S+) \{\n(.*?)^    \}", config, re.M | re.S)
    for kind, pattern, body in sorted(blocks, key=lambda b: b[0] != "="):
        if (path == pattern) if kind == "=" else re.search(pattern, path):
            found = re.search(r"proxy_pass http://(\w+)", body)
            return found.group(1) if found else None
    return None


def ingress_backends(path: str) -> set[str]:
    """The services whose Ingress path matches ``path`` (a prefix, or a regex anchored at the
    start)."""
    ingress = of_kind(render("local"), "Ingress")["api-gateway"]
    return {
        rule["backend"]["service"]["name"]
        for spec in ingress["spec"]["rules"]
        for rule in spec["http"]["paths"]
        if (
            path.startswith(rule["path"])
            if rule["pathType"] == "Prefix"
            else re.match(rule["path"], path)
        )
    }


def test_the_read_api_has_the_read_routes_users_call() -> None:
    assert {"/orders-with-invoices", "/products", "/products/p-1/stock", "/freshness"} <= set(
        read_paths()
    )
    assert "/products/p-1/stock/history" in read_paths()


@pytest.mark.parametrize("path", read_paths())
def test_the_gateway_sends_every_read_route_to_the_read_api(path: str) -> None:
    assert gateway_upstream(path) == "read_api"


@pytest.mark.parametrize("path", read_paths())
def test_the_ingress_sends_every_read_route_to_the_gateway(path: str) -> None:
    assert ingress_backends(path) == {GATEWAY}


@pytest.mark.parametrize(("path", "service"), COMMANDS.items())
def test_commands_still_reach_their_write_service(path: str, service: str) -> None:
    assert gateway_upstream(path) == service
    assert ingress_backends(path) == {GATEWAY}


def test_an_unknown_path_is_routed_nowhere() -> None:
    """The Ingress passes it to the gateway, which answers 404 itself."""
    assert gateway_upstream("/products/p-1/stock/history/x") is None
    assert ingress_backends("/products/p-1/stock/history/x") == {GATEWAY}
