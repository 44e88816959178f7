"""The local overlay's Jobs and Deployments run in podman pods until every probe passes, and
each write service signs with the key whose public half the overlay gives the ingest.

PostgreSQL and Kafka are the stand-in engines, by the names the overlay expects. The pods
run as the manifests say (args, env, volumes, user, read-only root filesystem); see
tests/support/kube_play.py for what podman does not enforce.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import httpx
import pytest

from config.component_secrets import WRITE_SERVICES
from contracts.signatures import trusted_from_jwks
from tests.support.kube_play import KubePlay, container_config, containers_of, pod_address
from tests.support.podman import podman


@pytest.fixture(scope="module")
def kube(images: None) -> Iterator[KubePlay]:
    play = KubePlay("local")
    play.down()  # whatever an interrupted run left
    try:
        play.start_engines()
        play.create_secrets()
        yield play
    finally:
        play.down()


def test_the_jobs_complete_against_the_stand_in_engines(kube: KubePlay) -> None:
    assert kube.of_kind("Job"), "the overlay has no Job"
    kube.run_jobs()


def test_every_probe_of_every_deployment_passes(kube: KubePlay) -> None:
    kube.run_deployments()
    assert kube.probes(), "no httpGet probe in the overlay"
    assert kube.wait_probes() == {}


def test_the_containers_run_with_their_security_context(kube: KubePlay) -> None:
    for deployment in kube.of_kind("Deployment"):
        pod_context = deployment["spec"]["template"]["spec"].get("securityContext", {})
        for container in containers_of(deployment):
            wanted = container.get("securityContext", {})
            name = f"{deployment['metadata']['name']}-pod-0-{container['name']}"
            config = container_config(name)
            assert config["HostConfig"]["ReadonlyRootfs"] == wanted.get(
                "readOnlyRootFilesystem", False
            ), name
            user = str(wanted.get("runAsUser", pod_context.get("runAsUser", "")))
            assert config["Config"]["User"].split(":")[0] == user, name
            if "ALL" in wanted.get("capabilities", {}).get("drop", []):
                assert config["EffectiveCaps"] in (None, []), name


def test_each_write_service_signs_with_the_key_the_ingest_trusts(kube: KubePlay) -> None:
    """The pod holds its own key and no other; its key is in the overlay's trusted set."""
    (trusted_map,) = [
        c for c in kube.of_kind("ConfigMap") if c["metadata"]["name"] == "cqrsw-event-trusted-keys"
    ]
    (jwks,) = trusted_map["data"].values()
    trusted = trusted_from_jwks(json.loads(jwks))
    for service in WRITE_SERVICES:
        (deployment,) = [d for d in kube.of_kind("Deployment") if d["metadata"]["name"] == service]
        (container,) = containers_of(deployment)
        name = f"{service}-pod-0-{container['name']}"
        env = {e["name"]: e.get("value") for e in container["env"]}
        key_file = env["CQRSW_EVENT_SIGNING_KEY_FILE"]
        listed = podman("exec", name, "ls", key_file.rsplit("/", 1)[0]).split()
        assert listed == [key_file.rsplit("/", 1)[1]], (service, listed)
        script = (
            "import sys; from pathlib import Path; from contracts.key_files import load_signer;"
            " print(load_signer(Path(sys.argv[1]), sys.argv[2]).key_id)"
        )
        key_id = podman("exec", name, "python", "-c", script, key_file, service).strip()
        assert trusted.by_id[key_id].producer == service


async def statuses(base: str, headers: dict[str, str], n: int) -> list[int]:
    """``n`` GETs of a routed path sent at once, each on its own connection."""
    limits = httpx.Limits(max_connections=n)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as client:
        answers = await asyncio.gather(
            *(client.get("/products", headers=headers) for _ in range(n))
        )
    return [r.status_code for r in answers]


def test_the_gateway_pod_limits_each_token_in_front_of_the_services(kube: KubePlay) -> None:
    """Through the gateway's pod: one token past its burst gets 429 from the gateway, while
    another token still reaches the read API's token check by its Service's name (401: the
    read API knows neither). The limit comes first, so it holds for tokens that fail too."""
    (deployment,) = [d for d in kube.of_kind("Deployment") if d["metadata"]["name"] == "gateway"]
    ((port,),) = [c["ports"] for c in containers_of(deployment)]
    base = f"http://{pod_address('gateway')}:{port['containerPort']}"
    # nginx counts a request as it arrives (before the token check): 190 sent at once pass
    # the token's burst (100, then 50 a second) but never the address's (200, then 100).
    answers = asyncio.run(statuses(base, {"Authorization": "Bearer hasty-token"}, 190))
    assert 429 in answers and set(answers) <= {401, 429}, sorted(set(answers))
    with httpx.Client(base_url=base, timeout=10) as client:
        calm = client.get("/products", headers={"Authorization": "Bearer calm-token"})
    assert calm.status_code == 401, calm.text
    assert calm.json()["detail"].startswith("rejected at the gateway")
