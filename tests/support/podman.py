"""docker-compose.yml and deploy/k8s run in real containers with podman (``make test-deploy``).

Images: a Debian base made with mmdebstrap (built only when missing), the stand-ins of
deploy/standins/ for the public images that cannot be pulled here, and the project's images
from the real Dockerfile with the Python stand-in as ``PYTHON_IMAGE``. Compose: podman-compose
with docker-compose.yml and the one override file. podman-compose with podman 4.3 ignores
``depends_on`` conditions, and podman without systemd runs no healthcheck by itself, so the
harness starts the services in the order their conditions say, running each declared
healthcheck (``podman healthcheck run``) until it passes.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from config.settings import REPO_ROOT

CONTAINERS_CONF = REPO_ROOT / "deploy" / "podman" / "containers.conf"
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
OVERRIDE_FILE = REPO_ROOT / "deploy" / "podman" / "compose.standins.yml"
# Tansu takes neither SASL nor TLS: the stand-in run's Kafka clients connect PLAINTEXT.
PLAINTEXT_KAFKA_FILE = REPO_ROOT / "deploy" / "podman" / "compose.standin-kafka-plaintext.yml"
STANDINS = REPO_ROOT / "deploy" / "standins"
# The run's own env file (passed with --env-file), never the checkout's .env: that one is the
# user's, and other test runs in the same checkout must not see the run's secrets in it.
ENV_FILE = REPO_ROOT / ".cqrsw" / "deploy-run.env"
ENV_EXAMPLE = REPO_ROOT / ".env.example"
BASE_IMAGE = "localhost/cqrsw-standin-debian:bookworm"
PYTHON_IMAGE = "localhost/cqrsw-standin-python:3.11"
STANDIN_PREFIX = "localhost/cqrsw-standin-"
DEBIAN_MIRROR = "http://deb.debian.org/debian"
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")
# The token issuer's key pair when the harness writes .env (the services get only the JWKS).
TOKEN_KEYS = REPO_ROOT / ".cqrsw" / "deploy-run-token-keys"
TOKEN_KEY_ID = "cqrsw-1"
TOKEN_ALGORITHM = "ES256"
# Each write service's event signing key and the ingest's trusted set (public keys).
EVENT_KEYS = REPO_ROOT / ".cqrsw" / "deploy-run-event-keys"
EVENT_TRUSTED = EVENT_KEYS / "trusted.jwks.json"
# Kafka password files (read by uid 10001 and the stand-in's kafka-init) and stand-ins for the
# TLS files compose mounts, which the Tansu stand-in never reads.
KAFKA_FILES = REPO_ROOT / ".cqrsw" / "deploy-run-kafka"
CONTAINER_UID = 10001  # the images' user (Dockerfile): it reads the mounted key files


class PodmanError(RuntimeError):
    """A podman or podman-compose command failed; the message holds its output."""


def podman_env() -> dict[str, str]:
    return {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)}


def run(argv: Sequence[str], *, timeout: float = 900, check: bool = True) -> str:
    done = subprocess.run(
        list(argv),
        cwd=REPO_ROOT,
        env=podman_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and done.returncode != 0:
        raise PodmanError(
            f"{' '.join(argv)} exited {done.returncode}:\n{done.stdout[-4000:]}\n"
            f"{done.stderr[-4000:]}"
        )
    return done.stdout


def podman(*args: str, timeout: float = 900, check: bool = True) -> str:
    return run(["podman", *args], timeout=timeout, check=check)


def container_logs(name: str) -> str:
    """What a container wrote to stdout and stderr (``podman logs`` keeps them apart)."""
    done = subprocess.run(
        ["podman", "logs", name], env=podman_env(), capture_output=True, text=True, check=False
    )
    return done.stdout + done.stderr


def image_exists(name: str) -> bool:
    return subprocess.run(["podman", "image", "exists", name], env=podman_env()).returncode == 0


def image_size(name: str) -> int:
    """Bytes of an image as ``podman images`` counts them (all its layers)."""
    return int(podman("image", "inspect", "--format", "{{.Size}}", name).strip())


def build_base() -> float | None:
    """The Debian base image, made with mmdebstrap only when missing; seconds it took."""
    if image_exists(BASE_IMAGE):
        return None
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="cqrsw-rootfs-") as tmp:
        tar = Path(tmp) / "rootfs.tar"
        run(["mmdebstrap", "--variant=minbase", "bookworm", str(tar), DEBIAN_MIRROR])
        path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        podman("import", "--change", f"ENV PATH={path}", str(tar), BASE_IMAGE)
    return time.monotonic() - t0


def standin_folder(image: str) -> Path:
    """deploy/standins/<name> builds localhost/cqrsw-standin-<name>:<tag>."""
    if not image.startswith(STANDIN_PREFIX):
        raise ValueError(f"{image} is not a stand-in image")
    return STANDINS / image.removeprefix(STANDIN_PREFIX).split(":")[0]


def build_standin(image: str) -> float:
    """One stand-in from its Containerfile (layers cached); the host's CA bundle goes in."""
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="cqrsw-standin-") as tmp:
        context = Path(tmp) / "context"
        shutil.copytree(standin_folder(image), context)
        shutil.copyfile(HOST_CA, context / "host-ca.crt")
        podman("build", "--layers", "-t", image, str(context), timeout=1800)
    return time.monotonic() - t0


def override_images() -> dict[str, str]:
    """Service -> stand-in image, as the override file names them."""
    override = yaml.safe_load(OVERRIDE_FILE.read_text())
    return {name: str(svc["image"]) for name, svc in override["services"].items()}


def standin_images() -> dict[str, str]:
    """Public image -> its stand-in: the image docker-compose.yml names for each service the
    override replaces (so a Kubernetes manifest naming the same public image gets the same one)."""
    compose = yaml.safe_load(COMPOSE_FILE.read_text())["services"]
    return {str(compose[name]["image"]): image for name, image in override_images().items()}


def build_standins() -> dict[str, float]:
    """The Python stand-in first (the others build on it), then each one the override names."""
    timings = {PYTHON_IMAGE: build_standin(PYTHON_IMAGE)}
    for image in sorted(set(override_images().values())):
        timings[image] = build_standin(image)
    return timings


def project_builds(config: dict[str, Any]) -> dict[str, str | None]:
    """Image -> Dockerfile target for every service docker-compose.yml builds from the repo."""
    builds: dict[str, str | None] = {}
    for service in config["services"].values():
        build = service.get("build")
        if build is None:
            continue
        target = build.get("target") if isinstance(build, dict) else None
        builds[str(service["image"])] = target
    return builds


def build_project_images(config: dict[str, Any]) -> dict[str, float]:
    """The project's images from the real Dockerfile, the Python stand-in as its base."""
    timings = {}
    for image, target in project_builds(config).items():
        t0 = time.monotonic()
        argv = ["build", "--layers", "--build-arg", f"PYTHON_IMAGE={PYTHON_IMAGE}", "-t", image]
        if target:
            argv += ["--target", target]
        podman(*argv, str(REPO_ROOT), timeout=3600)
        timings[image] = time.monotonic() - t0
    return timings


def make_event_keys() -> None:
    """One private key per write service, readable by the containers' user alone, and the
    trusted set of their public keys, as an operator makes them with ``cqrsw event-keys new``."""
    from contracts.catalog import PRODUCERS
    from contracts.key_files import jwks_bytes, new_key_file

    if EVENT_TRUSTED.exists():
        return
    shutil.rmtree(EVENT_KEYS, ignore_errors=True)  # an interrupted run's partial keys
    trusted = [new_key_file(EVENT_KEYS / f"{p}.pem", p) for p in PRODUCERS]
    for producer in PRODUCERS:
        key = EVENT_KEYS / f"{producer}.pem"
        os.chown(key, CONTAINER_UID, CONTAINER_UID)
        key.chmod(0o400)
    EVENT_KEYS.chmod(0o755)
    EVENT_TRUSTED.write_bytes(jwks_bytes(trusted))
    EVENT_TRUSTED.chmod(0o644)


def kafka_file(key: str) -> str:
    """A file for a Kafka password or TLS variable of .env.example: a random password (the
    stand-in run's clients do not send it), or an empty PEM stand-in; its path."""
    KAFKA_FILES.mkdir(parents=True, exist_ok=True)
    KAFKA_FILES.chmod(0o755)
    file = KAFKA_FILES / key.lower()
    file.write_text(secrets.token_urlsafe(32) + "\n" if "PASSWORD" in key else "")
    file.chmod(0o444)
    return str(file)


def write_env_file(path: Path = ENV_FILE) -> Path:
    """A fresh env file for the run, from .env.example's keys; its path.

    Secrets are new; the token and event keys are the harness's own (it signs the journey's
    tokens as the identity provider would), so a user's .env is never what the run reads.
    """
    from cryptography.fernet import Fernet

    from config.component_secrets import SECRETS
    from services.tokens import make_signing_keys

    if not (TOKEN_KEYS / "jwks.json").exists():
        make_signing_keys(TOKEN_KEYS, TOKEN_KEY_ID, TOKEN_ALGORITHM)
    make_event_keys()
    lines = []
    for line in ENV_EXAMPLE.read_text().splitlines():
        key, sep, value = line.partition("=")
        if not sep or line.lstrip().startswith("#"):
            continue
        if key == "CQRSW_JWT_ALGORITHM":
            value = TOKEN_ALGORITHM
        elif key == "CQRSW_JWKS_FILE":
            value = str(TOKEN_KEYS / "jwks.json")
        elif key == "CQRSW_EVENT_TRUSTED_KEYS":
            value = str(EVENT_TRUSTED)
        elif key.startswith(("CQRSW_KAFKA_PASSWORD_", "KAFKA_TLS_")):
            value = kafka_file(key)
        elif key.startswith("CQRSW_EVENT_SIGNING_KEY_"):
            value = str(EVENT_KEYS / f"{key.removeprefix('CQRSW_EVENT_SIGNING_KEY_').lower()}.pem")
        elif "FERNET" in key:
            value = Fernet.generate_key().decode()
        elif key in SECRETS or "PASSWORD" in key or "SECRET" in key:
            value = secrets.token_urlsafe(32)
        lines.append(f"{key}={value}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text("\n".join(lines) + "\n")
    return path


def issue_token(subject: str, *roles: str) -> str:
    """A token signed with the key pair ``write_env_file`` made, as an identity provider would."""
    from config.settings import Settings
    from services.tokens import issue_token as sign

    env = read_env_file()
    settings = Settings(
        jwt_algorithm=TOKEN_ALGORITHM,
        jwt_private_key_file=TOKEN_KEYS / f"{TOKEN_KEY_ID}.pem",
        jwt_key_id=TOKEN_KEY_ID,
        jwt_jwks_file=TOKEN_KEYS / "jwks.json",
        jwt_issuer=env["CQRSW_JWT_ISSUER"],
        jwt_audience=env["CQRSW_JWT_AUDIENCE"],
    )
    return sign(settings, subject, roles=roles or ("customer",))


def read_env_file(path: Path = ENV_FILE) -> dict[str, str]:
    env = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.lstrip().startswith("#"):
            env[key.strip()] = value.strip()
    return env


@dataclass
class Compose:
    """docker-compose.yml with the override, under podman-compose, as one project."""

    files: tuple[Path, ...] = (COMPOSE_FILE, OVERRIDE_FILE, PLAINTEXT_KAFKA_FILE)
    env_file: Path = ENV_FILE
    healthy: set[str] = field(default_factory=set)
    _config: dict[str, Any] | None = None
    anonymous_volumes: set[str] = field(default_factory=set)

    def command(self, *args: str, timeout: float = 900, check: bool = True) -> str:
        tool = REPO_ROOT / ".venv" / "tools" / "podman-compose" / "bin" / "podman-compose"
        podman_compose = os.environ.get("PODMAN_COMPOSE") or (
            str(tool) if tool.exists() else shutil.which("podman-compose")
        )
        if podman_compose is None:
            raise PodmanError("podman-compose is missing: `make test-deploy` installs it")
        files = [arg for f in self.files for arg in ("-f", str(f))]
        env_file = ["--env-file", str(self.env_file)]
        return run([str(podman_compose), *env_file, *files, *args], timeout=timeout, check=check)

    def config(self) -> dict[str, Any]:
        """The merged file as podman-compose reads it (variables from the env file interpolated)."""
        if self._config is None:
            self._config = yaml.safe_load(self.command("config"))
        return self._config

    @property
    def project(self) -> str:
        return str(self.config()["name"])

    def services(self) -> list[str]:
        return list(self.config()["services"])

    def containers(self) -> list[dict[str, Any]]:
        out = podman(
            "ps",
            "-a",
            "--format",
            "json",
            "--filter",
            f"label=io.podman.compose.project={self.project}",
        )
        found: list[dict[str, Any]] = json.loads(out or "[]")
        return found

    def container(self, service: str) -> str:
        for c in self.containers():
            if c.get("Labels", {}).get("com.docker.compose.service") == service:
                return str(c["Names"][0])
        raise PodmanError(f"no container for service {service}")

    def state(self, service: str) -> dict[str, Any]:
        out = podman("inspect", "--format", "json", self.container(service))
        state: dict[str, Any] = json.loads(out)[0]["State"]
        return state

    def is_healthy(self, service: str) -> bool:
        if service in self.healthy:
            return True
        done = subprocess.run(
            ["podman", "healthcheck", "run", self.container(service)],
            env=podman_env(),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode == 0:
            self.healthy.add(service)
        return done.returncode == 0

    def completed(self, service: str) -> bool:
        state = self.state(service)
        if state.get("Status") != "exited":
            return False
        if state.get("ExitCode") != 0:
            raise PodmanError(
                f"{service} exited {state.get('ExitCode')}:\n{self.logs(service)[-4000:]}"
            )
        return True

    def logs(self, service: str) -> str:
        return container_logs(self.container(service))

    def condition_met(self, service: str, condition: str) -> bool:
        if condition == "service_healthy":
            return self.is_healthy(service)
        if condition == "service_completed_successfully":
            return self.completed(service)
        return True  # service_started: it was started

    def up_in_order(self, services: Iterable[str] | None = None, timeout: float = 1500) -> float:
        """Start the services as ``depends_on`` conditions allow; seconds until all started."""
        config = self.config()
        pending = list(services or self.services())
        started: list[str] = []
        t0 = time.monotonic()
        self.healthy.clear()
        while pending:
            if time.monotonic() - t0 > timeout:
                raise PodmanError(f"not started after {timeout:.0f} s: {pending}")
            ready = [
                s
                for s in pending
                if all(
                    dep in started and self.condition_met(dep, spec.get("condition", ""))
                    for dep, spec in _depends_on(config["services"][s]).items()
                )
            ]
            if ready:
                self.command("up", "-d", "--no-deps", "--no-build", *ready)
                started += ready
                pending = [s for s in pending if s not in ready]
            else:
                time.sleep(2)
        return time.monotonic() - t0

    def wait_all_healthy(self, services: Iterable[str], timeout: float = 900) -> None:
        config = self.config()
        left = [s for s in services if "healthcheck" in config["services"][s]]
        t0 = time.monotonic()
        while left:
            left = [s for s in left if not self.is_healthy(s)]
            if left and time.monotonic() - t0 > timeout:
                logs = "\n".join(f"--- {s}\n{self.logs(s)[-3000:]}" for s in left)
                raise PodmanError(f"not healthy after {timeout:.0f} s: {left}\n{logs}")
            if left:
                time.sleep(3)

    def down(self) -> None:
        """``down -v``; then the anonymous volumes (an image's VOLUME with nothing mounted
        there) its containers had, which podman-compose 1.6 leaves behind, unlike Docker's."""
        label = f"label=io.podman.compose.project={self.project}"
        anonymous = volumes_of(podman("ps", "-a", "-q", "--filter", label).split())
        self.anonymous_volumes.update(anonymous)
        self.command("down", "-v", "--timeout", "10", timeout=600)
        remove_volumes(anonymous)

    def leftovers(self) -> dict[str, list[str]]:
        """Containers, networks and volumes of this project still there."""
        project = self.project
        label = f"label=io.podman.compose.project={project}"
        volumes = set(podman("volume", "ls", "-q").split())
        return {
            "containers": podman("ps", "-a", "-q", "--filter", label).split(),
            "networks": podman("network", "ls", "-q", "--filter", label).split(),
            "volumes": podman("volume", "ls", "-q", "--filter", label).split()
            + sorted(volumes & self.anonymous_volumes),
        }


def volumes_of(containers: Sequence[str]) -> list[str]:
    """The volumes mounted in these containers (named and anonymous)."""
    if not containers:
        return []
    inspected = json.loads(podman("inspect", "--format", "json", *containers))
    return [
        str(mount["Name"])
        for container in inspected
        for mount in container.get("Mounts", [])
        if mount.get("Type") == "volume"
    ]


def remove_volumes(names: Iterable[str]) -> None:
    for name in names:
        podman("volume", "rm", "-f", name, check=False)


def _depends_on(service: dict[str, Any]) -> dict[str, dict[str, str]]:
    given = service.get("depends_on", {})
    if isinstance(given, list):
        return {name: {"condition": "service_started"} for name in given}
    return {name: dict(spec or {}) for name, spec in given.items()}
