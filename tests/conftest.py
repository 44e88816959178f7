"""Shared pytest configuration: markers by directory, and the session's engines and clients."""

from __future__ import annotations

import pytest

pytest_plugins = ["tests.support.fixtures", "tests.support.spans"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = str(item.path)
        if "tests/integration" in path:
            item.add_marker(pytest.mark.integration)
        elif "tests/e2e" in path:
            item.add_marker(pytest.mark.e2e)
        elif "tests/deploy_run/" in path:
            item.add_marker(pytest.mark.deploy_run)
        elif "tests/deploy" in path:
            item.add_marker(pytest.mark.deploy)
