"""A stand-in for Grafana's provisioning and read API, where the Grafana image cannot be pulled.

At start it reads the provisioning folder as Grafana does (``GF_PATHS_PROVISIONING``, default
/etc/grafana/provisioning): every ``*.yaml``/``*.yml`` of ``datasources/`` and of
``dashboards/`` (the dashboard providers), with ``$VAR``/``${VAR}`` in string values taken
from the environment, and every ``*.json`` dashboard under each file provider's path. What
Grafana refuses to provision stops it with the reason (exit 1): unreadable YAML or JSON, a
datasource without a name or type, two default datasources, an unknown ``access``, a bad
uid, a provider without a path or with a path that is not there, ``folder`` together with
``foldersFromFilesStructure``, two providers of one name, a dashboard without a title, one
uid used twice. It is stricter than Grafana in one way: Grafana logs a broken dashboard file
and goes on, this stops.

Then it serves on 3000, as Grafana's HTTP API answers them: ``GET /api/health`` (no login),
and with the admin's basic auth (``GF_SECURITY_ADMIN_USER``, default ``admin``, and
``GF_SECURITY_ADMIN_PASSWORD``) ``GET /api/datasources``, ``GET /api/search`` (``type``
``dash-db`` or ``dash-folder``, ``query`` on the title) and ``GET /api/dashboards/uid/<uid>``.
It draws nothing and runs no query.
"""

from __future__ import annotations

import base64
import hmac
import json
import os
import re
import signal
import sys
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

PORT = 3000
LISTEN = "0.0.0.0"  # noqa: S104 a container's port, reached from the other containers
UID = re.compile(r"^[a-zA-Z0-9\-_]{1,40}$")
ACCESS = {"proxy", "direct"}
ENV_REFERENCE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


class ProvisioningError(Exception):
    """A provisioning file Grafana would refuse; the message names the file and the reason."""


@dataclass
class Provisioned:
    datasources: list[dict[str, Any]] = field(default_factory=list)
    folders: dict[str, str] = field(default_factory=dict)  # uid -> title
    dashboards: dict[str, dict[str, Any]] = field(default_factory=dict)  # uid -> record


def expand(value: Any, env: dict[str, str]) -> Any:
    """``$VAR`` and ``${VAR}`` in every string value, as Grafana expands provisioning files."""
    if isinstance(value, str):
        return ENV_REFERENCE.sub(lambda m: env.get(m.group(1) or m.group(2), ""), value)
    if isinstance(value, dict):
        return {k: expand(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [expand(v, env) for v in value]
    return value


def config_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix in {".yaml", ".yml"} and p.is_file())


def read_config(path: Path, env: dict[str, str]) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ProvisioningError(f"{path}: not readable YAML: {exc}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ProvisioningError(f"{path}: a provisioning file is a mapping")
    version = loaded.get("apiVersion", 0)
    if version not in (0, 1):
        raise ProvisioningError(f"{path}: unsupported apiVersion {version!r}")
    expanded: dict[str, Any] = expand(loaded, env)
    return expanded


def read_datasources(folder: Path, env: dict[str, str]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for path in config_files(folder):
        for i, ds in enumerate(read_config(path, env).get("datasources") or []):
            where = f"{path}: datasources[{i}]"
            if not isinstance(ds, dict):
                raise ProvisioningError(f"{where}: not a mapping")
            if not ds.get("name"):
                raise ProvisioningError(f"{where}: a datasource needs a name")
            if not ds.get("type"):
                raise ProvisioningError(f"{where}: datasource {ds['name']!r} needs a type")
            access = ds.get("access") or "proxy"
            if access not in ACCESS:
                raise ProvisioningError(f"{where}: access {access!r} is not proxy or direct")
            uid = str(ds.get("uid") or "")
            if uid and not UID.match(uid):
                raise ProvisioningError(f"{where}: uid {uid!r} is not a valid uid")
            found.append({**ds, "access": access, "_file": str(path)})
    names = [ds["name"] for ds in found]
    if len(set(names)) != len(names):
        raise ProvisioningError(f"datasource names are not unique: {names}")
    defaults = [ds["name"] for ds in found if ds.get("isDefault")]
    if len(defaults) > 1:
        raise ProvisioningError(
            "datasource.yaml config is invalid. Only one datasource per organization can be"
            f" marked as default: {defaults}"
        )
    return found


def on_this_machine(path: str, mounts: dict[str, Path]) -> Path:
    """Where a container path is when the folders are read outside the container."""
    for target, source in mounts.items():
        if path == target or path.startswith(target.rstrip("/") + "/"):
            return source / path[len(target) :].lstrip("/")
    return Path(path)


def read_providers(
    folder: Path, env: dict[str, str], mounts: dict[str, Path]
) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for path in config_files(folder):
        for i, provider in enumerate(read_config(path, env).get("providers") or []):
            where = f"{path}: providers[{i}]"
            if not isinstance(provider, dict):
                raise ProvisioningError(f"{where}: not a mapping")
            if (provider.get("type") or "file") != "file":
                raise ProvisioningError(f"{where}: type {provider['type']!r} is not file")
            options = provider.get("options") or {}
            if not options.get("path"):
                raise ProvisioningError(f"{where}: a file provider needs options.path")
            if options.get("foldersFromFilesStructure") and (
                provider.get("folder") or provider.get("folderUid")
            ):
                raise ProvisioningError(
                    f"{where}: 'folder' and 'folderUID' should be empty using"
                    " 'foldersFromFilesStructure' option"
                )
            folder_path = on_this_machine(str(options["path"]), mounts)
            if not folder_path.is_dir():
                raise ProvisioningError(f"{where}: cannot read directory {options['path']}")
            found.append({**provider, "_file": str(path), "_path": folder_path})
    names = [p.get("name", "") for p in found]
    if len(set(names)) != len(names):
        raise ProvisioningError(f"dashboard provider names are not unique: {names}")
    return found


def folder_uid(title: str) -> str:
    return re.sub(r"[^a-zA-Z0-9\-_]", "-", title)[:40] or "general"


def read_dashboards(providers: list[dict[str, Any]], provisioned: Provisioned) -> None:
    for provider in providers:
        root = provider["_path"]
        for path in sorted(root.rglob("*.json")):
            try:
                dashboard = json.loads(path.read_text())
            except (OSError, ValueError) as exc:
                raise ProvisioningError(f"{path}: not readable JSON: {exc}") from None
            if not isinstance(dashboard, dict):
                raise ProvisioningError(f"{path}: a dashboard is a JSON object")
            if "dashboard" in dashboard and "panels" not in dashboard:
                dashboard = dashboard["dashboard"]  # the export format wraps it
            if not str(dashboard.get("title") or "").strip():
                raise ProvisioningError(f"{path}: Dashboard title cannot be empty")
            uid = str(dashboard.get("uid") or "")
            if not UID.match(uid):
                raise ProvisioningError(f"{path}: dashboard uid {uid!r} is not a valid uid")
            if uid in provisioned.dashboards:
                other = provisioned.dashboards[uid]["file"]
                raise ProvisioningError(f"{path}: uid {uid!r} is used by {other} too")
            if provider["options"].get("foldersFromFilesStructure"):
                relative = path.parent.relative_to(root)
                title = relative.parts[0] if relative.parts else ""
            else:
                title = str(provider.get("folder") or "")
            fuid = str(provider.get("folderUid") or folder_uid(title)) if title else ""
            if title:
                provisioned.folders[fuid] = title
            provisioned.dashboards[uid] = {
                "dashboard": dashboard,
                "file": str(path),
                "folderUid": fuid,
                "folderTitle": title or "General",
            }


def provision(
    root: Path, env: dict[str, str], mounts: dict[str, Path] | None = None
) -> Provisioned:
    """Everything under the provisioning folder, or ProvisioningError naming the first fault.

    ``mounts`` (container path -> folder here) reads the files outside a container.
    """
    provisioned = Provisioned()
    provisioned.datasources = read_datasources(root / "datasources", env)
    read_dashboards(read_providers(root / "dashboards", env, mounts or {}), provisioned)
    return provisioned


def datasource_view(i: int, ds: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": i,
        "uid": ds.get("uid") or f"ds-{i}",
        "orgId": ds.get("orgId", 1),
        "name": ds["name"],
        "type": ds["type"],
        "access": ds["access"],
        "url": ds.get("url", ""),
        "isDefault": bool(ds.get("isDefault")),
        "jsonData": ds.get("jsonData") or {},
        "readOnly": True,
    }


def search(provisioned: Provisioned, kind: str | None, query: str) -> list[dict[str, Any]]:
    hits: list[dict[str, Any]] = []
    if kind in (None, "dash-folder"):
        for i, (fuid, title) in enumerate(sorted(provisioned.folders.items()), 1):
            hits.append({"id": i, "uid": fuid, "title": title, "type": "dash-folder"})
    if kind in (None, "dash-db"):
        for i, (uid, record) in enumerate(sorted(provisioned.dashboards.items()), 1):
            dashboard = record["dashboard"]
            hits.append(
                {
                    "id": 1000 + i,
                    "uid": uid,
                    "title": dashboard["title"],
                    "url": f"/d/{uid}",
                    "type": "dash-db",
                    "tags": dashboard.get("tags") or [],
                    "folderUid": record["folderUid"],
                    "folderTitle": record["folderTitle"],
                }
            )
    return [h for h in hits if query.lower() in h["title"].lower()]


def make_handler(provisioned: Provisioned, user: str, password: str) -> type:
    class Handler(BaseHTTPRequestHandler):
        server_version = "cqrsw-grafana-standin"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _json(self, status: int, data: Any) -> None:
            body = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _signed_in(self) -> bool:
            scheme, _, given = self.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "basic" or not password:
                return False
            try:
                name, _, secret = base64.b64decode(given).decode().partition(":")
            except ValueError:
                return False
            return hmac.compare_digest(name, user) and hmac.compare_digest(secret, password)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path == "/api/health":
                self._json(200, {"database": "ok", "version": "stand-in"})
                return
            if not url.path.startswith("/api/"):
                self._json(404, {"message": "Not found"})
                return
            if not self._signed_in():
                self._json(401, {"message": "Unauthorized"})
                return
            args = parse_qs(url.query)
            if url.path == "/api/datasources":
                views = [datasource_view(i, d) for i, d in enumerate(provisioned.datasources, 1)]
                self._json(200, views)
            elif url.path == "/api/search":
                kind = args.get("type", [None])[0]
                self._json(200, search(provisioned, kind, args.get("query", [""])[0]))
            elif url.path.startswith("/api/dashboards/uid/"):
                record = provisioned.dashboards.get(url.path.rsplit("/", 1)[1])
                if record is None:
                    self._json(404, {"message": "Dashboard not found"})
                    return
                meta = {
                    "provisioned": True,
                    "provisionedExternalId": Path(record["file"]).name,
                    "folderUid": record["folderUid"],
                    "folderTitle": record["folderTitle"],
                }
                self._json(200, {"dashboard": record["dashboard"], "meta": meta})
            else:
                self._json(404, {"message": "Not found"})

    return Handler


def main() -> int:
    env = dict(os.environ)
    root = Path(env.get("GF_PATHS_PROVISIONING", "/etc/grafana/provisioning"))
    try:
        provisioned = provision(root, env)
    except ProvisioningError as exc:
        print(f"Failed to provision: {exc}", file=sys.stderr, flush=True)
        return 1
    print(
        f"provisioned {len(provisioned.datasources)} datasource(s) and"
        f" {len(provisioned.dashboards)} dashboard(s) from {root}; serving on {PORT}",
        flush=True,
    )
    user = env.get("GF_SECURITY_ADMIN_USER", "admin")
    handler = make_handler(provisioned, user, env.get("GF_SECURITY_ADMIN_PASSWORD", ""))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # PID 1 stops when told to
    ThreadingHTTPServer((LISTEN, PORT), handler).serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
