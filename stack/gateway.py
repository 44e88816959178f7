"""The local API gateway: Debian's nginx with the same routing file as compose uses.

``deploy/gateway/templates/default.conf.template`` is the one routing file; here it is
filled in with the local ports and wrapped in a main configuration that keeps the pid,
logs and temporary files in the state directory.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import httpx

from config.settings import REPO_ROOT, Settings
from stack.processes import PidFile, StackError, port_free, port_open, spawn, wait_until

TEMPLATE = REPO_ROOT / "deploy" / "gateway" / "templates" / "default.conf.template"
NAME = "gateway"
_PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")
# Whose X-Real-IP the gateway believes where it is itself the edge: nobody. nginx's `unix:`
# names peers on Unix sockets, and the gateway listens on TCP only.
EDGE_REAL_IP_FROM = "unix:"


class GatewayUnavailable(StackError):
    """nginx is not installed, so the gateway cannot run here."""


def nginx_binary() -> Path | None:
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    return Path(found) if found else None


def render(template: str, values: dict[str, str]) -> str:
    """Fill in ``${NAME}`` as the nginx image's envsubst does; nginx's own ``$vars`` stay."""
    missing = sorted({m for m in _PLACEHOLDER.findall(template) if m not in values})
    if missing:
        raise StackError(f"gateway: no value for {', '.join(missing)} in {TEMPLATE.name}")
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def local_values(settings: Settings) -> dict[str, str]:
    return {
        "GATEWAY_LISTEN": f"127.0.0.1:{settings.gateway_port}",
        "READ_API_UPSTREAM": f"127.0.0.1:{settings.read_api_port}",
        "ORDERS_UPSTREAM": f"127.0.0.1:{settings.orders_port}",
        "INVOICES_UPSTREAM": f"127.0.0.1:{settings.invoices_port}",
        "STOCK_UPSTREAM": f"127.0.0.1:{settings.stock_port}",
        "GATEWAY_REAL_IP_FROM": EDGE_REAL_IP_FROM,
        **rate_values(settings),
    }


def rate_values(settings: Settings) -> dict[str, str]:
    """The gateway's rate limits (requests a second, and the burst absorbed: twice that)."""
    token, address = settings.gateway_token_rate, settings.gateway_address_rate
    return {
        "GATEWAY_TOKEN_RATE": f"{token}r/s",
        "GATEWAY_TOKEN_BURST": str(2 * token),
        "GATEWAY_ADDRESS_RATE": f"{address}r/s",
        "GATEWAY_ADDRESS_BURST": str(2 * address),
    }


def main_config(home: Path, routes: Path) -> str:
    """nginx.conf around the routes: everything nginx writes stays under ``home``."""
    return f"""daemon off;
pid {home}/nginx.pid;
error_log {home}/error.log warn;
worker_processes 1;
events {{ worker_connections 512; }}
http {{
    log_format cqrsw '$remote_addr "$request" $status $request_time rid=$cqrsw_request_id';
    access_log {home}/access.log cqrsw;
    client_body_temp_path {home}/buffers/client_body;
    proxy_temp_path {home}/buffers/proxy;
    fastcgi_temp_path {home}/buffers/fastcgi;
    uwsgi_temp_path {home}/buffers/uwsgi;
    scgi_temp_path {home}/buffers/scgi;
    proxy_max_temp_file_size 0;
    include {routes};
}}
"""


def write_config(settings: Settings) -> Path:
    home = settings.state_dir / NAME
    (home / "buffers").mkdir(parents=True, exist_ok=True)
    routes = home / "routes.conf"
    routes.write_text(render(TEMPLATE.read_text(), local_values(settings)))
    conf = home / "nginx.conf"
    conf.write_text(main_config(home, routes))
    return conf


def _pid_file(settings: Settings) -> PidFile:
    return PidFile(settings.state_dir, NAME, str(settings.state_dir / NAME / "nginx.conf"))


def start_gateway(settings: Settings) -> tuple[str, bool]:
    """Start nginx in front of the services; return where it listens and whether it started."""
    url = f"http://127.0.0.1:{settings.gateway_port}"
    nginx = nginx_binary()
    if nginx is None:
        raise GatewayUnavailable("gateway skipped: nginx is not installed (`make nginx`)")
    pid_file = _pid_file(settings)
    if pid_file.process() is not None:
        return f"{url} (already running)", False
    if not port_free(settings.gateway_port):
        raise StackError(f"gateway: port {settings.gateway_port} on 127.0.0.1 is already in use")
    conf = write_config(settings)
    home = conf.parent
    argv = [str(nginx), "-p", str(home), "-e", str(home / "error.log"), "-c", str(conf)]
    log = settings.state_dir / "logs" / f"{NAME}.log"
    proc = spawn(pid_file, argv, log)
    wait_until(NAME, lambda: _healthy(settings), proc, home / "error.log", timeout=20)
    return url, True


def _healthy(settings: Settings) -> bool:
    if not port_open(settings.gateway_port):
        return False
    try:
        url = f"http://127.0.0.1:{settings.gateway_port}/healthz"
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def stop_gateway(settings: Settings) -> bool:
    return _pid_file(settings).stop()


def gateway_status(settings: Settings) -> str:
    up = _pid_file(settings).process() is not None
    return f"http://127.0.0.1:{settings.gateway_port} {'up' if up else 'down'}"
