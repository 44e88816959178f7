"""Prometheus and the pipeline exporter in the local stack (``make up``).

Prometheus is the OS package's binary (Debian ``prometheus``; ``make promtool`` installs
it), run with a config written from the settings, so it scrapes the ports this stack uses
and loads deploy/prometheus/alerts.yml: the alerts are live locally.
"""

from __future__ import annotations

import shutil
import sys
from functools import partial
from pathlib import Path

import yaml

from config.settings import REPO_ROOT, Settings
from stack.processes import PidFile, StackError, port_free, port_open, spawn, wait_until

ALERT_RULES = REPO_ROOT / "deploy" / "prometheus" / "alerts.yml"
SERVICE_JOBS = ("orders", "invoices", "stock", "read_api")
NAMES = ("pipeline-exporter", "prometheus")


def prometheus_config(settings: Settings, rules: Path = ALERT_RULES) -> dict[str, object]:
    def job(name: str, port: int, path: str) -> dict[str, object]:
        return {
            "job_name": name,
            "metrics_path": path,
            "static_configs": [{"targets": [f"127.0.0.1:{port}"]}],
        }

    jobs = [job(name, getattr(settings, f"{name}_port"), "/metrics/") for name in SERVICE_JOBS]
    jobs.append(job("pipeline", settings.metrics_port, "/metrics"))
    return {
        "global": {"scrape_interval": "15s", "evaluation_interval": "15s"},
        "rule_files": [str(rules)],
        "scrape_configs": jobs,
    }


def _pid_files(settings: Settings) -> dict[str, PidFile]:
    config = settings.state_dir / "prometheus" / "prometheus.yml"
    return {
        "pipeline-exporter": PidFile(settings.state_dir, "pipeline-exporter", "metrics serve"),
        "prometheus": PidFile(settings.state_dir, "prometheus", str(config)),
    }


def start_prometheus(settings: Settings, env: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    """Start the exporter and Prometheus unless running; return where they listen, and which
    this call started."""
    binary = shutil.which("prometheus")
    if binary is None:
        raise StackError(
            "prometheus: not installed; `make promtool` installs Debian's prometheus package"
        )
    logs, pids = settings.state_dir / "logs", _pid_files(settings)
    where, started = {}, []
    exporter = [sys.executable, "-m", "cqrsw.cli", "metrics", "serve"]
    home = settings.state_dir / "prometheus"
    config = home / "prometheus.yml"
    home.mkdir(parents=True, exist_ok=True)
    config.write_text(yaml.safe_dump(prometheus_config(settings), sort_keys=False))
    server = [
        binary, f"--config.file={config}", f"--storage.tsdb.path={home / 'data'}",
        f"--web.listen-address=127.0.0.1:{settings.prometheus_port}",
    ]  # fmt: skip
    for name, argv, port in (
        ("pipeline-exporter", exporter, settings.metrics_port),
        ("prometheus", server, settings.prometheus_port),
    ):
        url = f"http://127.0.0.1:{port}"
        if pids[name].process() is not None:
            where[name] = f"{url} (already running)"
            continue
        if not port_free(port):
            raise StackError(f"{name}: port {port} on 127.0.0.1 is already in use")
        proc = spawn(pids[name], argv, logs / f"{name}.log", env=env)
        started.append(name)
        wait_until(name, partial(port_open, port), proc, logs / f"{name}.log", timeout=30)
        where[name] = url
    return where, started


def stop_prometheus(settings: Settings, names: list[str]) -> list[str]:
    pids = _pid_files(settings)
    return [name for name in reversed(NAMES) if name in names and pids[name].stop()]


def prometheus_status(settings: Settings) -> dict[str, str]:
    ports = {"pipeline-exporter": settings.metrics_port, "prometheus": settings.prometheus_port}
    return {
        name: f"http://127.0.0.1:{ports[name]} " + ("up" if pid.process() is not None else "down")
        for name, pid in _pid_files(settings).items()
    }
