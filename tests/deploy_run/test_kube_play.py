"""The local overlay's Jobs and Deployments run in podman pods until every probe passes.

PostgreSQL and Kafka are the stand-in engines, by the names the overlay expects. The pods
run as the manifests say (args, env, volumes, user, read-only root filesystem); see
tests/support/kube_play.py for what podman does not enforce.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.kube_play import KubePlay, container_config, containers_of


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
