"""Who may reach whom in the rendered overlays, computed from their NetworkPolicies.

The project's pods come from the rendered Deployments and Jobs; the pods installed beside
them (ingress controller, Prometheus, the PostgreSQL and Kafka charts, Airflow's official
chart) are modelled with the labels those charts give them. Each flow the system needs must
be allowed, and a sample of the flows it does not need must be denied.
"""

from __future__ import annotations

from typing import Any

import pytest

from config.settings import Settings
from stack.http_services import HTTP_SERVICES
from tests.deploy.test_kubernetes_manifests import EXPORTER, GATEWAY, OVERLAYS, of_kind, render
from tests.support.network_policies import Pod, can_reach, pods_of

WRITE_SERVICES = tuple(s.role for s in HTTP_SERVICES if s.name != "read_api")
POSTGRES, KAFKA, KAFKA_CONTROLLER = 5432, 9092, 9093
API_SERVER, TASK_LOGS = 8080, 8793
METRICS = Settings().metrics_port


class Cluster:
    """The rendered overlay's pods and policies, plus the pods the other charts make."""

    def __init__(self, manifests: list[dict[str, Any]]):
        self.policies = list(of_kind(manifests, "NetworkPolicy").values())
        self.pods = pods_of(manifests)
        ns = next(iter(self.pods.values())).namespace

        def airflow(component: str, **ports: int) -> Pod:
            labels = {"tier": "airflow", "component": component, "release": "airflow"}
            return Pod(f"airflow-{component}", ns, labels, ports)

        self.pods.update(
            {
                "ingress-controller": Pod(
                    "ingress-controller",
                    "ingress-nginx",
                    {"app.kubernetes.io/name": "ingress-nginx"},
                ),
                "prometheus": Pod(
                    "prometheus", "monitoring", {"app.kubernetes.io/name": "prometheus"}
                ),
                "elsewhere": Pod("elsewhere", "default", {"app": "something-else"}),
                "postgresql": Pod("postgresql", ns, {"app.kubernetes.io/name": "postgresql"}),
                "kafka-0": Pod("kafka-0", ns, {"app.kubernetes.io/name": "kafka"}),
                "kafka-1": Pod("kafka-1", ns, {"app.kubernetes.io/name": "kafka"}),
                "scheduler": airflow("scheduler", logs=TASK_LOGS),
                "api-server": airflow("api-server", api=API_SERVER),
                "dag-processor": airflow("dag-processor"),
                "triggerer": airflow("triggerer", logs=TASK_LOGS),
                "task-pod": airflow("worker", logs=TASK_LOGS),
                "airflow-migrations": airflow("run-airflow-migrations"),
            }
        )

    def reach(self, source: str, target: str, port: int | str) -> bool:
        return can_reach(self.pods[source], self.pods[target], port, self.policies)


@pytest.fixture(scope="module", params=OVERLAYS)
def cluster(request: pytest.FixtureRequest) -> Cluster:
    return Cluster(render(request.param))


AIRFLOW = ("scheduler", "api-server", "dag-processor", "triggerer", "task-pod")
SERVICES = (*WRITE_SERVICES, "read-api")


def test_the_ingress_controller_reaches_the_gateway_and_the_airflow_ui(cluster: Cluster) -> None:
    assert cluster.reach("ingress-controller", GATEWAY, "http")
    assert cluster.reach("ingress-controller", "api-server", API_SERVER)


def test_the_gateway_reaches_every_service(cluster: Cluster) -> None:
    for service in SERVICES:  # routes, and the read API's /auth/verify for every request
        assert cluster.reach(GATEWAY, service, "http"), service


def test_no_service_is_reachable_from_the_ingress_without_the_gateway(cluster: Cluster) -> None:
    """Only through the gateway is a request counted against its token's limit."""
    for service in SERVICES:
        assert not cluster.reach("ingress-controller", service, "http"), service


def test_only_the_ingress_controller_reaches_the_gateway(cluster: Cluster) -> None:
    """The gateway takes the client's address from X-Real-IP: no one else may send it one."""
    for other in ("prometheus", "elsewhere", *SERVICES, EXPORTER, "cqrsw-init", "task-pod"):
        assert not cluster.reach(other, GATEWAY, "http"), other


def test_prometheus_scrapes_the_services_and_the_exporter(cluster: Cluster) -> None:
    for service in SERVICES:
        assert cluster.reach("prometheus", service, "http"), service
    assert cluster.reach("prometheus", EXPORTER, METRICS)


def test_everything_that_keeps_data_reaches_postgresql(cluster: Cluster) -> None:
    for client in (*SERVICES, EXPORTER, "cqrsw-init", *AIRFLOW, "airflow-migrations"):
        assert cluster.reach(client, "postgresql", POSTGRES), client


def test_producers_init_and_the_ingest_task_pods_reach_kafka(cluster: Cluster) -> None:
    for client in (*WRITE_SERVICES, "cqrsw-init", "task-pod"):
        assert cluster.reach(client, "kafka-0", KAFKA), client
    assert cluster.reach("kafka-0", "kafka-1", KAFKA_CONTROLLER)


def test_airflow_components_reach_each_other(cluster: Cluster) -> None:
    for component in ("scheduler", "dag-processor", "triggerer", "task-pod"):
        assert cluster.reach(component, "api-server", API_SERVER), component
    for component in ("scheduler", "triggerer", "task-pod"):  # the UI reads their task logs
        assert cluster.reach("api-server", component, TASK_LOGS), component


def test_the_read_side_never_touches_the_event_log(cluster: Cluster) -> None:
    assert not cluster.reach("read-api", "kafka-0", KAFKA)
    assert not cluster.reach(EXPORTER, "kafka-0", KAFKA)
    for component in ("scheduler", "api-server", "triggerer", "dag-processor"):
        assert not cluster.reach(component, "kafka-0", KAFKA), component


def test_services_reach_neither_airflow_nor_each_other(cluster: Cluster) -> None:
    for service in SERVICES:
        assert not cluster.reach(service, "api-server", API_SERVER), service
        assert not cluster.reach(service, "scheduler", TASK_LOGS), service
        for other in SERVICES:
            if other != service:
                assert not cluster.reach(service, other, "http"), (service, other)
    assert not cluster.reach("task-pod", "read-api", "http")


def test_outsiders_reach_no_engine_and_no_service(cluster: Cluster) -> None:
    for outsider in ("ingress-controller", "prometheus", "elsewhere"):
        assert not cluster.reach(outsider, "postgresql", POSTGRES), outsider
        assert not cluster.reach(outsider, "kafka-0", KAFKA), outsider
        assert not cluster.reach(outsider, "scheduler", TASK_LOGS), outsider
    assert not cluster.reach("elsewhere", "read-api", "http")
    assert not cluster.reach("prometheus", "api-server", API_SERVER)


def test_without_the_policies_every_flow_is_open() -> None:
    """The denials above come from the policies, not from the model of the cluster."""
    open_cluster = Cluster(render("local"))
    open_cluster.policies = []
    assert open_cluster.reach("read-api", "kafka-0", KAFKA)
    assert open_cluster.reach("elsewhere", "postgresql", POSTGRES)
    assert open_cluster.reach("ingress-controller", "read-api", "http")
