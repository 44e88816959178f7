"""The rendered Kubernetes overlay's pods run with ``podman kube play``, beside stand-in engines.

What podman 4.3 plays is what a kubelet would run for each pod: the containers with their
args, env (a ConfigMap by ``envFrom``, Secret keys by ``secretKeyRef``), volumes and
securityContext (user, read-only root filesystem, dropped capabilities). Four things are
translated, none a change to what a pod sees. podman 4.3 skips ``kind: Job``, so a Job's pod
template is played as a Pod. It reads a Secret from a podman secret holding the Secret's
``data`` as JSON (the Secret documents it creates itself it cannot read back), so the
harness creates those. It mounts a secret volume with every key of the Secret and none of
its ``items``, so each volume is played from a podman secret holding just the files a
kubelet would project (decoded: podman writes such a document's values as they stand).
And it lets ``envFrom`` override ``env`` (a kubelet does the
opposite: the init Job's admin URL from the Secret must win over the ConfigMap's URL without
a password), so each ConfigMap given by ``envFrom`` is played as the ``env`` entries the
container does not name. Probes are not run by podman: the harness runs each ``httpGet``
probe against the pod's address, as a kubelet does. Two more stand in for what a cluster
gives: a public image that cannot be pulled here is replaced by its compose stand-in (the
gateway's nginx), and each Deployment is played on its own, as one pod (podman 4.3 publishes
each container port on the host, so a second replica could not bind it), with the names of
the Services that select its pods as network aliases, so a pod reaches another by its
Service's name (the gateway its upstreams), as cluster DNS would. NetworkPolicies, HPAs and
Ingresses are not enforced, nor Services' ports (a pod is reached on its container ports).
"""

from __future__ import annotations

import base64
import copy
import json
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import yaml

from tests.support.kustomize import render
from tests.support.podman import (
    PodmanError,
    container_logs,
    override_images,
    podman,
    remove_volumes,
    standin_images,
    volumes_of,
)

NETWORK = "cqrsw-kube"
LABEL = "cqrsw.test=kube-play"


def pod_of_job(job: dict[str, Any]) -> dict[str, Any]:
    template = job["spec"]["template"]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {**template.get("metadata", {}), "name": job["metadata"]["name"]},
        "spec": template["spec"],
    }


def env_as_a_kubelet_gives_it(doc: dict[str, Any], configmaps: list[dict[str, Any]]) -> None:
    """``envFrom`` ConfigMaps as ``env`` entries, each below the container's own ``env``."""
    data = {cm["metadata"]["name"]: cm.get("data", {}) for cm in configmaps}
    for container in containers_of(doc):
        named = {entry["name"] for entry in container.get("env", [])}
        kept, added = [], []
        for source in container.get("envFrom", []):
            if "configMapRef" not in source:
                kept.append(source)
                continue
            prefix = source.get("prefix", "")
            for key, value in data[source["configMapRef"]["name"]].items():
                if prefix + key not in named:
                    added.append({"name": prefix + key, "value": str(value)})
                    named.add(prefix + key)
        container["envFrom"] = kept
        container["env"] = [*added, *container.get("env", [])]


def with_standin_images(doc: dict[str, Any], standins: dict[str, str]) -> None:
    """Each container naming a public image that has a stand-in gets the stand-in."""
    for container in containers_of(doc):
        container["image"] = standins.get(container["image"], container["image"])


def service_names(deployment: dict[str, Any], services: list[dict[str, Any]]) -> list[str]:
    """The Services whose selector picks the Deployment's pods (their DNS names in a cluster)."""
    labels = deployment["spec"]["template"]["metadata"].get("labels", {})
    return [
        s["metadata"]["name"]
        for s in services
        if s["spec"].get("selector") and s["spec"]["selector"].items() <= labels.items()
    ]


def containers_of(doc: dict[str, Any]) -> list[dict[str, Any]]:
    spec = doc["spec"] if doc["kind"] == "Pod" else doc["spec"]["template"]["spec"]
    found: list[dict[str, Any]] = spec["containers"]
    return found


@dataclass
class KubePlay:
    """One overlay's workloads in podman, with PostgreSQL and Kafka stand-ins by name."""

    overlay: str = "local"
    docs: list[dict[str, Any]] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)
    tmp: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="cqrsw-kube-")))

    def __post_init__(self) -> None:
        self.docs = render(self.overlay)

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [d for d in self.docs if d["kind"] == kind]

    def secret_env(self, name: str) -> dict[str, str]:
        for secret in self.of_kind("Secret"):
            if secret["metadata"]["name"] == name:
                data = secret.get("data", {})
                return {k: base64.b64decode(v).decode() for k, v in data.items()}
        raise KeyError(name)

    def start_engines(self) -> None:
        """PostgreSQL and Kafka where the overlay expects them (postgres:5432, kafka:9092)."""
        images = override_images()
        podman("network", "create", "--label", LABEL, NETWORK)
        database_url = urlsplit(self.secret_env("cqrsw-secrets")["CQRSW_DATABASE_URL"].strip())
        podman(
            "run", "-d", "--name", database_url.hostname or "postgres", "--network", NETWORK,
            "--label", LABEL,
            "-e", f"POSTGRES_USER={database_url.username}",
            "-e", f"POSTGRES_PASSWORD={database_url.password}",
            images["postgres"],
        )  # fmt: skip
        podman(
            "run", "-d", "--name", "kafka", "--network", NETWORK, "--label", LABEL,
            "-e", "KAFKA_ADVERTISED_LISTENERS=PLAINTEXT://kafka:9092",
            images["kafka-1"],
        )  # fmt: skip

    def create_secret(self, name: str, content: dict[str, Any]) -> None:
        """A podman secret (replacing one an interrupted run left) removed by ``down``."""
        path = self.tmp / f"{name}.json"
        path.write_text(json.dumps(content))
        podman("secret", "rm", name, check=False)
        podman("secret", "create", name, str(path))
        self.secrets.append(name)

    def create_secrets(self) -> None:
        """Each Secret as podman reads it for ``secretKeyRef``: its ``data`` as a JSON map."""
        for secret in self.of_kind("Secret"):
            self.create_secret(secret["metadata"]["name"], secret.get("data", {}))

    def project_secret_volumes(self, doc: dict[str, Any]) -> None:
        """Each secret volume as the files a kubelet projects into it. podman 4.3 ignores
        ``items`` (it mounts every key of the Secret under its own name) and reads a volume's
        Secret as a whole Secret document, not the JSON map of ``secretKeyRef``; so each
        volume gets a podman secret of its own holding its items only, named by their paths.
        The files' mode stays podman's (0644, root) rather than ``defaultMode``."""
        spec = doc["spec"] if doc["kind"] == "Pod" else doc["spec"]["template"]["spec"]
        for volume in spec.get("volumes", []):
            source = volume.get("secret")
            if source is None:
                continue
            (secret,) = [
                s for s in self.of_kind("Secret") if s["metadata"]["name"] == source["secretName"]
            ]
            data = secret.get("data", {})
            items = source.get("items") or [{"key": k, "path": k} for k in data]
            name = f"{doc['metadata']['name']}-{volume['name']}"
            # podman 4.3 writes the values of that document as they stand (no base64 decoding)
            projected = {
                item["path"]: base64.b64decode(data[item["key"]]).decode() for item in items
            }
            document = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}}
            self.create_secret(name, {**document, "data": projected})
            # podman 4.3 dereferences `optional` without a default: false, as Kubernetes has it
            volume["secret"] = {"secretName": name, "optional": False}

    def play(self, docs: list[dict[str, Any]], name: str, aliases: Sequence[str] = ()) -> None:
        docs = copy.deepcopy(docs)
        configmaps = [d for d in docs if d["kind"] == "ConfigMap"]
        standins = standin_images()
        for doc in docs:
            if doc["kind"] in ("Pod", "Deployment"):
                env_as_a_kubelet_gives_it(doc, configmaps)
                self.project_secret_volumes(doc)
                with_standin_images(doc, standins)
        path = self.tmp / f"{name}.yaml"
        path.write_text(yaml.safe_dump_all(docs))
        self.files.append(path)
        network = NETWORK
        if aliases:  # podman's per-network options: <network>:alias=<a>,alias=<b>
            network += ":" + ",".join(f"alias={alias}" for alias in aliases)
        podman("kube", "play", "--network", network, str(path), timeout=600)

    def run_jobs(self, timeout: float = 600) -> None:
        """Each Job's pod, played and waited for until every container exited 0."""
        configmaps = self.of_kind("ConfigMap")
        for job in self.of_kind("Job"):
            pod = pod_of_job(job)
            self.play([*configmaps, pod], f"job-{job['metadata']['name']}")
            names = [f"{pod['metadata']['name']}-{c['name']}" for c in containers_of(pod)]
            deadline = time.monotonic() + timeout
            while names:
                states = {n: container_state(n) for n in names}
                names = [n for n, s in states.items() if s.get("Status") != "exited"]
                failed = [
                    n
                    for n, s in states.items()
                    if s.get("Status") == "exited" and s.get("ExitCode")
                ]
                if failed and job["spec"]["template"]["spec"].get("restartPolicy") == "Never":
                    raise PodmanError(f"job {failed} failed:\n{container_logs(failed[0])}")
                names += failed
                if names and time.monotonic() > deadline:
                    logs = container_logs(names[0])[-4000:]
                    raise PodmanError(f"job containers {names} not done:\n{logs}")
                if names:
                    time.sleep(3)

    def run_deployments(self) -> None:
        """Each Deployment with the ConfigMaps, named on the network as its Services are."""
        configmaps, services = self.of_kind("ConfigMap"), self.of_kind("Service")
        for deployment in self.of_kind("Deployment"):
            name = deployment["metadata"]["name"]
            aliases = service_names(deployment, services)
            one_pod = {**deployment, "spec": {**deployment["spec"], "replicas": 1}}
            self.play([*configmaps, one_pod], f"deployment-{name}", aliases)

    def probes(self) -> list[tuple[str, str, str]]:
        """(pod, container, probe kind) for every httpGet probe of every Deployment."""
        found = []
        for deployment in self.of_kind("Deployment"):
            for container in containers_of(deployment):
                for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
                    if "httpGet" in container.get(kind, {}):
                        found.append((deployment["metadata"]["name"], container["name"], kind))
        return found

    def probe_url(self, deployment: str, container_name: str, kind: str) -> str:
        (doc,) = [d for d in self.of_kind("Deployment") if d["metadata"]["name"] == deployment]
        (container,) = [c for c in containers_of(doc) if c["name"] == container_name]
        get = container[kind]["httpGet"]
        port = get["port"]
        if isinstance(port, str):
            port = next(p["containerPort"] for p in container["ports"] if p.get("name") == port)
        return f"http://{pod_address(deployment)}:{port}{get.get('path', '/')}"

    def wait_probes(self, timeout: float = 600) -> dict[str, str]:
        """Every probe answered 2xx/3xx; the failures left when the time ran out otherwise."""
        left = {f"{d}/{c}/{k}": (d, c, k) for d, c, k in self.probes()}
        failures: dict[str, str] = {}
        deadline = time.monotonic() + timeout
        while left and time.monotonic() < deadline:
            for key, (d, c, k) in list(left.items()):
                try:
                    status = httpx.get(self.probe_url(d, c, k), timeout=3).status_code
                except (httpx.HTTPError, PodmanError) as exc:
                    failures[key] = str(exc)
                    continue
                if 200 <= status < 400:
                    left.pop(key)
                    failures.pop(key, None)
                else:
                    failures[key] = f"HTTP {status}"
            if left:
                time.sleep(3)
        return {key: failures.get(key, "not run") for key in left}

    def claimed_volumes(self) -> list[str]:
        """Volumes podman made for the pods' PersistentVolumeClaims (named by the claim)."""
        return [
            str(volume["persistentVolumeClaim"]["claimName"])
            for doc in self.docs
            if doc["kind"] in ("Deployment", "Job")
            for volume in doc["spec"]["template"]["spec"].get("volumes", [])
            if "persistentVolumeClaim" in volume
        ]

    def down(self) -> None:
        """Pods, engines, secrets, the network, and every volume they had: ``podman kube
        down`` of podman 4.3 leaves claimed and anonymous volumes behind."""
        pods = [p["Name"] for p in json.loads(podman("pod", "ps", "--format", "json") or "[]")]
        played = {d["metadata"]["name"] for d in self.docs if d["kind"] in ("Deployment", "Job")}
        ours = [p for p in pods if p in played or p.rsplit("-pod", 1)[0] in played]
        containers = podman("ps", "-a", "-q", "--filter", f"label={LABEL}").split()
        for pod in ours:
            containers += podman("ps", "-a", "-q", "--filter", f"pod={pod}").split()
        volumes = volumes_of(containers)
        for path in reversed(self.files):
            podman("kube", "down", str(path), check=False)
        for pod in ours:
            podman("pod", "rm", "-f", pod, check=False)
        for name in self.secrets:
            podman("secret", "rm", name, check=False)
        for cid in podman("ps", "-a", "-q", "--filter", f"label={LABEL}").split():
            podman("rm", "-f", "-v", cid, check=False)
        remove_volumes([*volumes, *self.claimed_volumes()])
        podman("network", "rm", "-f", NETWORK, check=False)


def container_state(name: str) -> dict[str, Any]:
    state: dict[str, Any] = json.loads(podman("inspect", "--format", "json", name))[0]["State"]
    return state


def pod_address(deployment: str) -> str:
    """The address of the (first) pod podman made for a Deployment, on the test network."""
    pods = json.loads(podman("pod", "ps", "--format", "json"))
    for pod in pods:
        if pod["Name"].startswith(f"{deployment}-pod"):
            infra = json.loads(podman("pod", "inspect", pod["Name"]))["InfraContainerID"]
            networks = json.loads(podman("inspect", "--format", "json", infra))[0][
                "NetworkSettings"
            ]["Networks"]
            return str(networks[NETWORK]["IPAddress"])
    raise PodmanError(f"no pod for deployment {deployment}")


def container_config(name: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(podman("inspect", "--format", "json", name))[0]
    return found
