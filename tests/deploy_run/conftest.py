"""The compose stack under podman, started once for the module that asks for it.

Runs only with CQRSW_DEPLOY_RUN=1 (``make test-deploy`` sets it): it builds images and
starts about twenty containers, far too heavy for ``make test``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from tests.support import podman


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    if os.environ.get("CQRSW_DEPLOY_RUN") == "1":
        return
    skip = pytest.mark.skip(reason="runs real containers: `make test-deploy`")
    for item in items:
        if "tests/deploy_run/" in str(item.path):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def env_file() -> Iterator[None]:
    """The run's env file with fresh secrets, in the state folder (not the checkout's .env)."""
    path = podman.write_env_file()
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def images(env_file: None) -> None:
    """Every image the compose file and the override name, built once (layers cached)."""
    podman.build_base()
    podman.build_standins()
    podman.build_project_images(podman.Compose().config())


@pytest.fixture(scope="module")
def compose(images: None) -> Iterator[podman.Compose]:
    stack = podman.Compose()
    stack.down()  # whatever an interrupted run left
    try:
        services = stack.services()
        t0 = time.monotonic()
        stack.up_in_order(services)
        stack.wait_all_healthy(services)
        print(f"\ncompose cold start to all healthy: {time.monotonic() - t0:.0f} s", flush=True)
        yield stack
    finally:
        stack.down()
