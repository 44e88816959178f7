"""docker-compose.yml checked offline: the compose-spec schema, settings, pins and health."""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.fernet import Fernet

from config.component_secrets import ADMIN_URL, NEEDS, SECRETS
from config.secret_checks import environment_problems
from config.settings import REPO_ROOT, Settings
from contracts.catalog import TOPICS
from cqrsw.container import PIPELINE_ROLES
from cqrsw.container import SERVICES as CONTAINER_ROLES
from services.health import READY_PATH
from stack.gateway import EDGE_REAL_IP_FROM, TEMPLATE, render
from stack.http_services import HTTP_SERVICES as SERVICES
from tests.support.deploy_settings import check, interpolate, read_env_file, settings_from

COMPOSE = REPO_ROOT / "docker-compose.yml"
ENV_EXAMPLE = REPO_ROOT / ".env.example"
# The Dockerfile's two targets, as compose names their images.
APP_IMAGES = ("cqrs-warehouse-service", "cqrs-warehouse-pipeline")
HTTP_SERVICES = {service.role: service.name for service in SERVICES}


def filled_env() -> dict[str, str]:
    """.env as a user makes it from .env.example: every secret replaced by a random value."""
    env = read_env_file(ENV_EXAMPLE)
    for name in env:
        if name in SECRETS or name == "GRAFANA_ADMIN_PASSWORD" or name.endswith("PASSWORD"):
            env[name] = secrets.token_urlsafe(32)
    env["AIRFLOW__API_AUTH__JWT_SECRET"] = secrets.token_urlsafe(32)
    env["AIRFLOW__CORE__FERNET_KEY"] = Fernet.generate_key().decode()
    return env


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    """The file as docker compose sees it with .env made from .env.example."""
    text = interpolate(COMPOSE.read_text(), filled_env())
    loaded: dict[str, Any] = yaml.safe_load(text)
    return loaded


def environment_of(service: dict[str, Any]) -> dict[str, str]:
    env: dict[str, str] = {}
    files = service.get("env_file", [])
    for name in [files] if isinstance(files, str) else files:
        # .env (secrets) only fills in the file; a generated, committed list may be passed.
        assert name != ".env", "a container given the whole .env"
        env.update(read_env_file(REPO_ROOT / name))
    given = service.get("environment", {})
    if isinstance(given, list):
        given = dict(item.split("=", 1) for item in given)
    env.update({k: str(v) for k, v in given.items()})
    return env


def app_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in compose["services"].items()
        if str(service.get("image", "")).partition(":")[0] in APP_IMAGES
    }


def test_file_is_valid_against_the_compose_spec() -> None:
    checker = Path(sys.executable).with_name("check-jsonschema")
    done = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_cqrsw_variable_is_a_setting_and_every_container_can_start(
    compose: dict[str, Any],
) -> None:
    services = app_services(compose)
    assert set(HTTP_SERVICES) | {"init", "airflow-scheduler"} <= set(services)
    problems = {name: check(environment_of(s)) for name, s in services.items()}
    assert problems == {name: [] for name in services}


def test_the_check_finds_a_misspelt_or_missing_setting(compose: dict[str, Any]) -> None:
    env = environment_of(compose["services"]["orders"])
    assert check({**env, "CQRSW_JWT_SECERT": "x" * 32}) == [
        "CQRSW_JWT_SECERT is not a setting the code reads"
    ]
    without_issuer = {k: v for k, v in env.items() if k != "CQRSW_JWT_ISSUER"}
    assert any("CQRSW_JWT_ISSUER" in p for p in check(without_issuer))


def test_the_placeholders_of_env_example_are_refused_in_every_container() -> None:
    shipped = read_env_file(ENV_EXAMPLE)
    shipped["AIRFLOW__CORE__FERNET_KEY"] = "change-me"  # compose's `:?` refuses it empty
    loaded = yaml.safe_load(interpolate(COMPOSE.read_text(), shipped))
    for name, service in loaded["services"].items():
        env = environment_of(service)
        held = [v for v in env if v in SECRETS and v != ADMIN_URL]
        if not held:
            continue
        if name in app_services(loaded):
            problems = " ".join(check(env)) + " ".join(environment_problems(env))
        else:
            problems = " ".join(environment_problems(env))
        if name == "postgres" or name == "grafana":  # official images: check-secrets guards them
            assert "check-secrets" in service["depends_on"], name
            continue
        for variable in held:
            assert variable in problems, (name, variable)


def test_each_container_holds_exactly_the_secrets_it_needs(compose: dict[str, Any]) -> None:
    held = {}
    for name, service in compose["services"].items():
        env = environment_of(service)
        secrets_held = {v for v in env if v in SECRETS and v != ADMIN_URL}
        if "@" in env.get(ADMIN_URL, ""):  # a URL with the admin's password in it
            secrets_held.add(ADMIN_URL)
        # Key files come as compose secrets, named as the table names them.
        secrets_held |= {
            s["source"] if isinstance(s, dict) else s for s in service.get("secrets", [])
        }
        held[name] = secrets_held
    assert set(compose["secrets"]) <= SECRETS
    assert held == {name: set(NEEDS.get(name, ())) for name in compose["services"]}


def test_services_run_as_prod_on_the_compose_engines(compose: dict[str, Any]) -> None:
    for name in HTTP_SERVICES:
        env = environment_of(compose["services"][name])
        assert env["CQRSW_ENV"] == "prod", name
        assert env["CQRSW_DATABASE_URL"].startswith("postgresql://"), name
        brokers = env["CQRSW_KAFKA_BOOTSTRAP_SERVERS"].split(",")
        assert all(b.split(":")[0] in compose["services"] for b in brokers), brokers


def test_every_image_is_pinned_to_a_version(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        image = str(service["image"])
        _, _, tag = image.rpartition(":")
        assert "/" not in tag and tag not in {"", "latest"}, f"{name}: {image} is not pinned"
        assert any(ch.isdigit() for ch in tag), f"{name}: {image} has no version in its tag"


# Official images compose pulls that are pinned by tag only: no registry was reachable to
# read their digests (docs/security.md, "Image digests"). The list only shrinks: an image
# added or changed must carry its digest (IMAGE:TAG@sha256:...).
BY_TAG_ONLY = frozenset(
    {"postgres:18.1-bookworm", "apache/kafka:3.9.1", "nginx:1.28.0-bookworm",
     "jaegertracing/all-in-one:1.62.0", "prom/prometheus:v3.1.0", "grafana/grafana:11.4.0"}
)  # fmt: skip


def test_every_pulled_image_is_pinned_by_digest_or_listed_as_not_yet(
    compose: dict[str, Any],
) -> None:
    pulled = {
        name: str(service["image"])
        for name, service in compose["services"].items()
        if "build" not in service
    }
    for name, image in pulled.items():
        _, at, digest = image.partition("@")
        if at:
            assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest), f"{name}: {image}"
        else:
            assert image in BY_TAG_ONLY, f"{name}: {image} has no digest"
    assert set(pulled.values()) >= BY_TAG_ONLY  # an image pinned since leaves the list


def test_long_running_services_have_healthchecks_and_dependencies_wait_for_them(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    for name, service in services.items():
        one_shot = service.get("restart") == "no"
        assert one_shot or "healthcheck" in service, f"{name} has no healthcheck"
        for target, rule in service.get("depends_on", {}).items():
            condition = rule["condition"]
            if condition == "service_healthy":
                assert "healthcheck" in services[target], f"{name} waits on {target}'s health"
            else:
                assert condition == "service_completed_successfully", (name, target)
                assert services[target].get("restart") == "no", f"{target} is not a one-shot"


def test_data_lives_in_named_volumes(compose: dict[str, Any]) -> None:
    declared = set(compose["volumes"])
    used = set()
    for service in compose["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if not source.startswith((".", "/")):
                used.add(source)
    assert used == declared
    assert {"postgres-data", "kafka-1-data", "cqrsw-state"} <= declared


def test_topics_created_are_the_contract_topics(compose: dict[str, Any]) -> None:
    kafka_init = compose["services"]["kafka-init"]
    assert kafka_init["entrypoint"] == ["/bin/sh", "/opt/cqrsw/kafka-init.sh"]
    assert "./deploy/kafka/init.sh:/opt/cqrsw/kafka-init.sh:ro" in kafka_init["volumes"]
    script = (REPO_ROOT / "deploy" / "kafka" / "init.sh").read_text()
    created = [line.split("--topic ")[1].split()[0] for line in script.splitlines()
               if line.startswith("kafka topics --create")]  # fmt: skip
    assert tuple(created) == TOPICS  # generated from the catalogue
    given, init = kafka_init["environment"], environment_of(compose["services"]["init"])
    assert given["KAFKA_TOPIC_PARTITIONS"] == init["CQRSW_TOPIC_PARTITIONS"]
    replicas = given["KAFKA_TOPIC_REPLICATION_FACTOR"]
    assert replicas == init["CQRSW_TOPIC_REPLICATION_FACTOR"]
    brokers = [s for s in compose["services"] if s.startswith("kafka-") and s != "kafka-init"]
    assert int(replicas) <= len(brokers)


def test_gateway_and_healthchecks_use_the_ports_the_services_listen_on(
    compose: dict[str, Any],
) -> None:
    gateway = compose["services"]["gateway"]["environment"]
    for name, field in HTTP_SERVICES.items():
        port = Settings.model_fields[f"{field}_port"].default
        upstream = gateway[f"{field.upper()}_UPSTREAM"]
        assert upstream == f"{name}:{port}"
        # Healthy means ready: what waits on a service waits until it can serve.
        assert f"127.0.0.1:{port}{READY_PATH}'" in " ".join(
            compose["services"][name]["healthcheck"]["test"]
        )


def test_secrets_come_from_an_uncommitted_env_file() -> None:
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", ".env"], cwd=REPO_ROOT, check=False
    ).returncode
    assert ignored == 0, ".env must be git-ignored"
    assert "POSTGRES_PASSWORD" in read_env_file(ENV_EXAMPLE)
    # Compose stops at the first `:?` without a value, naming it (an empty value included).
    for name in ("POSTGRES_PASSWORD", "AIRFLOW__CORE__FERNET_KEY", "CQRSW_PG_PASSWORD_ORDERS"):
        with pytest.raises(KeyError, match=name):
            interpolate(COMPOSE.read_text(), {**filled_env(), name: ""})


def test_app_containers_start_roles_the_image_knows(compose: dict[str, Any]) -> None:
    roles = {*CONTAINER_ROLES, "init", "metrics", "airflow", "check-secrets"}
    for name, service in app_services(compose).items():
        assert service["command"][0] in roles, name


def test_each_container_runs_the_image_its_role_needs(compose: dict[str, Any]) -> None:
    """Airflow and init on the pipeline image; the services and the exporter on the small one."""
    targets = {}
    for name, service in app_services(compose).items():
        target = "pipeline" if service["command"][0] in PIPELINE_ROLES else "service"
        assert service["build"] == {"context": ".", "target": target}, name
        assert service["image"].partition(":")[0] == f"cqrs-warehouse-{target}", name
        targets[name] = target
    assert {targets[name] for name in HTTP_SERVICES} == {"service"}
    assert targets["pipeline-exporter"] == "service"
    assert targets["init"] == targets["airflow-scheduler"] == "pipeline"


def test_the_gateway_gets_a_value_for_every_placeholder_of_its_routes(
    compose: dict[str, Any],
) -> None:
    gateway = compose["services"]["gateway"]
    assert "./deploy/gateway/templates:/etc/nginx/templates:ro" in gateway["volumes"]
    routes = render(TEMPLATE.read_text(), gateway["environment"])
    assert "server read-api:8000;" in routes
    # The edge itself: a client's X-Real-IP is no way around the per-address limit.
    assert f"set_real_ip_from {EDGE_REAL_IP_FROM};" in routes


def test_prometheus_scrapes_every_service_where_compose_runs_it(compose: dict[str, Any]) -> None:
    """deploy/prometheus/ comes from the observability work; once there, it must fit compose."""
    config_dir = REPO_ROOT / "deploy" / "prometheus"
    assert "./deploy/prometheus:/etc/prometheus:ro" in compose["services"]["prometheus"]["volumes"]
    if not (config_dir / "prometheus.yml").exists():
        pytest.skip("deploy/prometheus/prometheus.yml is not in this branch yet")
    config = yaml.safe_load((config_dir / "prometheus.yml").read_text())
    targets = {
        target
        for job in config.get("scrape_configs", [])
        for static in job.get("static_configs", [])
        for target in static.get("targets", [])
    }
    for name, field in HTTP_SERVICES.items():
        assert f"{name}:{Settings.model_fields[f'{field}_port'].default}" in targets, name


def test_grafana_is_provisioned_from_the_repository(compose: dict[str, Any]) -> None:
    grafana = compose["services"]["grafana"]
    mounts = dict(v.removesuffix(":ro").split(":") for v in grafana["volumes"] if v[0] == ".")
    for source in mounts:
        assert (REPO_ROOT / source).is_dir(), f"{source} is mounted but missing"
    provisioning = REPO_ROOT / "deploy" / "grafana" / "provisioning"
    assert mounts["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
    (datasources,) = (provisioning / "datasources").glob("*.yaml")
    (source,) = yaml.safe_load(datasources.read_text())["datasources"]
    port = compose["services"]["prometheus"]["ports"][0].rsplit(":", 1)[1]
    assert source["type"] == "prometheus" and source["url"] == f"http://prometheus:{port}"
    (providers,) = (provisioning / "dashboards").glob("*.yaml")
    (provider,) = yaml.safe_load(providers.read_text())["providers"]
    assert provider["options"]["path"] == mounts["./deploy/grafana/dashboards"]
    dashboards = list((REPO_ROOT / "deploy" / "grafana" / "dashboards").glob("*.json"))
    assert dashboards and all(json.loads(d.read_text())["panels"] for d in dashboards)


def test_traces_go_to_jaeger_by_the_variables_the_code_reads(compose: dict[str, Any]) -> None:
    for name, service in app_services(compose).items():
        env = environment_of(service)
        assert not [k for k in env if k.startswith("OTEL_")], f"{name}: OTEL_* is not read"
        settings = settings_from(env)
        assert settings.otel_exporter == "otlp-http", name
        assert settings.otel_endpoint == "http://jaeger:4318/v1/traces", name
    assert "jaeger" in compose["services"]


def test_the_exporter_reads_the_metrics_the_scheduler_s_tasks_write(
    compose: dict[str, Any],
) -> None:
    """Ingest and gate runs leave textfiles under the state dir; the exporter serves them."""

    def state_volume(name: str) -> str:
        service = compose["services"][name]
        state_dir = environment_of(service)["CQRSW_STATE_DIR"]
        volumes = [str(v).split(":")[0] for v in service.get("volumes", []) if f":{state_dir}" in v]
        assert len(volumes) == 1, name
        return volumes[0]

    assert state_volume("pipeline-exporter") == state_volume("airflow-scheduler")
    assert state_volume("pipeline-exporter") in compose["volumes"]


def seconds(duration: str) -> float:
    units = {"s": 1, "m": 60}
    return float(duration[:-1]) * units[duration[-1]]


def test_airflow_job_checks_are_rare_patient_and_wait_for_start_up(
    compose: dict[str, Any],
) -> None:
    checked = 0
    for name, service in compose["services"].items():
        check = service.get("healthcheck", {})
        if "jobs" in check.get("test", []):
            checked += 1
            assert seconds(check["interval"]) >= 60, name
            assert seconds(check["timeout"]) >= 20, name
            assert seconds(check["start_period"]) >= 60, name
    assert checked == 3


def test_airflow_containers_run_an_init_process(compose: dict[str, Any]) -> None:
    airflow = [n for n, s in app_services(compose).items() if s["command"][0] == "airflow"]
    assert len(airflow) == 4
    for name in airflow:
        assert compose["services"][name].get("init") is True, name


def test_ports_are_published_on_the_loopback_only(compose: dict[str, Any]) -> None:
    published = [
        (name, port)
        for name, service in compose["services"].items()
        for port in service.get("ports", [])
    ]
    assert published
    for name, port in published:
        assert str(port).startswith("127.0.0.1:"), f"{name}: {port} is open to every interface"
