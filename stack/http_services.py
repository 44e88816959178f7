"""The HTTP services of the stack: which app each one is, and starting one with uvicorn."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import httpx

from config.settings import Settings
from services.health import READY_PATH
from stack.processes import PidFile, StackError, port_free, spawn, wait_until


@dataclass(frozen=True)
class HttpService:
    name: str
    app: str

    @property
    def role(self) -> str:
        """Its name as a container role or a Kubernetes object (``read-api``)."""
        return self.name.replace("_", "-")

    def port(self, settings: Settings) -> int:
        port: int = getattr(settings, f"{self.name}_port")
        return port

    def uvicorn_argv(self, settings: Settings, host: str = "127.0.0.1") -> list[str]:
        return [
            sys.executable, "-m", "uvicorn", self.app, "--factory",
            "--host", host, "--port", str(self.port(settings)),
            # Past this many connections and requests at once uvicorn answers 503 at once,
            # instead of queueing work until every client times out.
            "--limit-concurrency", str(settings.service_concurrency_limit),
        ]  # fmt: skip

    def pid_file(self, settings: Settings) -> PidFile:
        # App and port: the same service of another stack listens on another port.
        return PidFile(settings.state_dir, self.name, " ".join(self.uvicorn_argv(settings)[3:]))


HTTP_SERVICES = (
    HttpService("orders", "services.orders.app:create_app"),
    HttpService("invoices", "services.invoices.app:create_app"),
    HttpService("stock", "services.stock.app:create_app"),
    HttpService("read_api", "services.read_api.app:create_app"),
)


def start_service(settings: Settings, service: HttpService, started: list[str]) -> str:
    """Start it unless it runs; ``started`` gets its name as soon as it was spawned."""
    port = service.port(settings)
    url = f"http://127.0.0.1:{port}"
    pid_file = service.pid_file(settings)
    if pid_file.process() is not None:
        return f"{url} (already running)"
    if not port_free(port):
        raise StackError(f"{service.name}: port {port} on 127.0.0.1 is already in use")
    log = settings.state_dir / "logs" / f"{service.name}.log"
    env = {**os.environ, **settings.as_env()}
    proc = spawn(pid_file, service.uvicorn_argv(settings), log, env=env)
    started.append(service.name)
    wait_until(service.name, lambda: healthy(f"{url}{READY_PATH}"), proc, log, timeout=60)
    return url


def healthy(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
