"""Kafka users and topic ACLs, read from compose's files and the Kubernetes manifests and held
against the event catalogue: each write service writes only the topics of its own events,
the ingest only reads, and each client holds its own Kafka password and no other's."""

from __future__ import annotations

import shlex
from typing import Any

import pytest
import yaml

from config.component_secrets import (
    INGEST_KAFKA_GROUP,
    INGEST_KAFKA_USER,
    INIT_KAFKA_USER,
    KAFKA_ADMIN,
    KAFKA_NODES,
    KAFKA_USERS,
    NEEDS,
    kafka_password,
    kafka_tls_key,
)
from config.settings import REPO_ROOT
from contracts.catalog import PRODUCER_OF, PRODUCERS, TOPICS
from contracts.kafka_acls import password_file
from tests.deploy.test_compose_file import COMPOSE, environment_of, filled_env
from tests.deploy.test_kubernetes_manifests import K8S, containers, of_kind, render
from tests.support.deploy_settings import interpolate

INIT_SCRIPT = REPO_ROOT / "deploy" / "kafka" / "init.sh"

# Which Kafka user each compose container that uses Kafka is: a write service is its own
# (the catalogue's producer), whatever runs the ingest is `ingest`, init is `init`.
COMPOSE_USERS = {
    **{producer: producer for producer in PRODUCERS},
    "airflow-scheduler": INGEST_KAFKA_USER,
    "airflow-triggerer": INGEST_KAFKA_USER,
    "init": INIT_KAFKA_USER,
}
K8S_USERS = {**{producer: producer for producer in PRODUCERS}, "cqrsw-init": INIT_KAFKA_USER}


INGEST_GROUP = f"group:{INGEST_KAFKA_GROUP}"  # how granted() names the ingest's group


def expected_acls() -> set[tuple[str, str, str]]:
    """(user, operation, topic) from the catalogue alone, and the ingest's group Describe
    (librdkafka looks up the group's coordinator even for assigned partitions)."""
    acls = {(INGEST_KAFKA_USER, "Describe", INGEST_GROUP)}
    for topic in TOPICS:
        acls |= {(PRODUCER_OF[topic], op, topic) for op in ("Write", "Describe")}
        acls |= {(INGEST_KAFKA_USER, op, topic) for op in ("Read", "Describe")}
        acls |= {(INIT_KAFKA_USER, op, topic) for op in ("Create", "Describe")}
    return acls


def granted(script: str) -> set[tuple[str, str, str]]:
    """(user, operation, topic) of each ``kafka acls`` line; anything but a literal topic
    allowed to one user fails here."""
    acls = set()
    for line in script.splitlines():
        if not line.startswith("kafka acls"):
            continue
        words = shlex.split(line)
        assert words[2] == "--add", line
        options = list(zip(words[3::2], words[4::2], strict=True))
        names = {name for name, _ in options}
        (principal,) = [v for n, v in options if n == "--allow-principal"]
        assert principal.startswith("User:"), line
        if "--group" in names:  # only the ingest's own group, only described
            assert names == {"--allow-principal", "--operation", "--group"}, line
            (group,) = [v for n, v in options if n == "--group"]
            assert group == INGEST_KAFKA_GROUP, line
            assert principal == f"User:{INGEST_KAFKA_USER}", line
            assert [v for n, v in options if n == "--operation"] == ["Describe"], line
            acls.add((INGEST_KAFKA_USER, "Describe", INGEST_GROUP))
            continue
        assert names == {"--allow-principal", "--operation", "--topic"}, line  # no deny,
        # prefix pattern, cluster or host option: one literal topic, one principal
        (topic,) = [v for n, v in options if n == "--topic"]
        assert topic in TOPICS, line
        acls |= {
            (principal.removeprefix("User:"), v, topic) for n, v in options if n == "--operation"
        }
    return acls


def test_the_acls_are_those_of_the_catalogue() -> None:
    acls = granted(INIT_SCRIPT.read_text())
    assert acls == expected_acls()
    for user, operation, topic in acls:
        if operation in {"Write", "Create", "Alter", "Delete", "All"}:
            assert user in {PRODUCER_OF[topic], INIT_KAFKA_USER}, (user, operation, topic)
            assert operation != "Write" or user == PRODUCER_OF[topic], (user, topic)


def test_a_write_granted_to_another_service_is_found() -> None:
    script = INIT_SCRIPT.read_text() + (
        "kafka acls --add --allow-principal User:invoices --operation Write --topic order.created\n"
    )
    assert granted(script) != expected_acls()
    with pytest.raises(AssertionError):
        granted(script + "kafka acls --add --allow-principal User:orders --topic '*'\n")


def test_kafka_init_creates_one_user_per_client_from_its_own_password_file() -> None:
    script = INIT_SCRIPT.read_text()
    users = [
        shlex.split(line)[shlex.split(line).index("--entity-name") + 1]
        for line in script.splitlines()
        if line.startswith("kafka configs --alter --entity-type users")
    ]
    assert users == list(KAFKA_USERS)
    for user in KAFKA_USERS:
        assert f"$(cat {password_file(user)})" in script, user


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(interpolate(COMPOSE.read_text(), filled_env()))
    return loaded


def secret_targets(service: dict[str, Any]) -> dict[str, str]:
    """Each compose secret the container mounts, by its path in the container."""
    return {
        f"/run/secrets/{s.get('target', s['source'])}": s["source"]
        for s in service.get("secrets", [])
    }


def test_each_compose_client_is_its_own_kafka_user_with_its_own_password(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    clients = {
        name: environment_of(service)
        for name, service in services.items()
        if "CQRSW_KAFKA_SECURITY_PROTOCOL" in environment_of(service)
    }
    assert set(clients) == set(COMPOSE_USERS)
    for name, env in clients.items():
        user = COMPOSE_USERS[name]
        assert env["CQRSW_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL", name
        assert env["CQRSW_KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512", name
        assert env["CQRSW_KAFKA_SASL_USERNAME"] == user, name
        mounted = secret_targets(services[name])
        assert mounted[env["CQRSW_KAFKA_SASL_PASSWORD_FILE"]] == kafka_password(user), name
        held = {s for s in mounted.values() if s.startswith("CQRSW_KAFKA_PASSWORD_")}
        assert held == {kafka_password(user)}, name
        ca = env["CQRSW_KAFKA_SSL_CAFILE"]
        assert any(str(v).endswith(f":{ca}:ro") for v in services[name]["volumes"]), name
    # No other container holds a Kafka password but kafka-init, which makes the users.
    for name, service in services.items():
        held = {s for s in secret_targets(service).values() if "KAFKA_PASSWORD" in s}
        if name == "kafka-init":
            assert secret_targets(service) == {
                **{password_file(u): kafka_password(u) for u in KAFKA_USERS},
                "/run/secrets/kafka-tls.pem": kafka_tls_key(KAFKA_ADMIN),
            }
        elif name not in clients:
            assert not held, name


def test_compose_kafka_refuses_what_no_acl_allows_and_takes_no_plaintext(
    compose: dict[str, Any],
) -> None:
    for node in KAFKA_NODES:
        env = compose["services"][node]["environment"]
        protocols = dict(
            p.split(":") for p in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")
        )
        assert set(protocols.values()) <= {"SSL", "SASL_SSL"}, node
        listeners = {entry.split("://")[0] for entry in env["KAFKA_LISTENERS"].split(",")}
        assert listeners == set(protocols), node
        clients = [name for name, protocol in protocols.items() if protocol == "SASL_SSL"]
        assert clients == ["CLIENT"] and env["KAFKA_SASL_ENABLED_MECHANISMS"] == "SCRAM-SHA-512"
        # The nodes' own listeners want a client certificate; only SCRAM users use CLIENT.
        assert env["KAFKA_SSL_CLIENT_AUTH"] == "required"
        assert env["KAFKA_LISTENER_NAME_CLIENT_SSL_CLIENT_AUTH"] == "none"
        assert env["KAFKA_AUTHORIZER_CLASS_NAME"].endswith(".StandardAuthorizer")
        assert env["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false"
        supers = {u.removeprefix("User:") for u in env["KAFKA_SUPER_USERS"].split(";")}
        assert supers == {*KAFKA_NODES, KAFKA_ADMIN}
        # Each node holds its own key only.
        assert set(secret_targets(compose["services"][node]).values()) == NEEDS[node]
    # Every client reaches the SASL_SSL listener.
    app = environment_of(compose["services"]["orders"])
    ports = {b.split(":")[1] for b in app["CQRSW_KAFKA_BOOTSTRAP_SERVERS"].split(",")}
    listeners = compose["services"][KAFKA_NODES[0]]["environment"]["KAFKA_LISTENERS"]
    assert {f"CLIENT://:{port}" for port in ports} <= set(listeners.split(","))


def test_each_kubernetes_client_pod_is_its_own_kafka_user() -> None:
    docs = render("prod")
    pods = {}
    for name, container in containers(docs):
        env = {e["name"]: e.get("value") for e in container.get("env", [])}
        if "CQRSW_KAFKA_SASL_USERNAME" in env:
            pods[name] = (env, container)
    assert set(pods) == set(K8S_USERS)
    workloads = {**of_kind(docs, "Deployment"), **of_kind(docs, "Job")}
    for name, (env, container) in pods.items():
        user = K8S_USERS[name]
        assert env["CQRSW_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL", name
        assert env["CQRSW_KAFKA_SASL_USERNAME"] == user, name
        mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
        volumes = {v["name"]: v for v in workloads[name]["spec"]["template"]["spec"]["volumes"]}
        keys = {
            f"{mounts[v]}/{item['path']}": item["key"]
            for v in mounts
            for item in volumes[v].get("secret", {}).get("items", [])
        }
        assert keys[env["CQRSW_KAFKA_SASL_PASSWORD_FILE"]] == kafka_password(user), name
        assert {k for k in keys.values() if "KAFKA_PASSWORD" in k} == {kafka_password(user)}
    # Airflow's task pods run the ingest: the user `ingest`, its password mounted, no other.
    values = yaml.safe_load((K8S / "airflow" / "values.yaml").read_text())
    env = {e["name"]: e["value"] for e in values["env"]}
    assert env["CQRSW_KAFKA_SASL_USERNAME"] == INGEST_KAFKA_USER
    mounted = {
        item["key"]
        for volume in values["workers"]["extraVolumes"]
        for item in volume.get("secret", {}).get("items", [])
    }
    assert {k for k in mounted if "KAFKA_PASSWORD" in k} == {kafka_password(INGEST_KAFKA_USER)}
