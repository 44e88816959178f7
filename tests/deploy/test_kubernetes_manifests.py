"""deploy/k8s rendered with kustomize and every manifest validated offline."""

from __future__ import annotations

import base64
import json
import re
import secrets
from collections.abc import Iterator
from typing import Any

import kubernetes_validate
import pytest
import yaml
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from config.component_secrets import (
    AIRFLOW_ADMIN,
    AIRFLOW_FERNET,
    AIRFLOW_JWT,
    JWT_SECRET,
    KAFKA_USERS,
    NEEDS,
    WRITE_SERVICES,
    event_signing_key,
    kafka_password,
)
from config.settings import REPO_ROOT, Settings
from contracts.key_files import load_signer
from contracts.signatures import trusted_from_jwks
from cqrsw.container import PIPELINE_ROLES
from services.health import READY_PATH
from stack.gateway import TEMPLATE
from stack.gateway import render as render_routes
from stack.http_services import HTTP_SERVICES
from tests.support import kustomize
from tests.support.deploy_settings import check, settings_from

K8S = REPO_ROOT / "deploy" / "k8s"
OVERLAYS = ("local", "prod")
# The oldest Kubernetes still supported upstream when this was written, and the newest the
# validator knows: a manifest must be valid on both.
KUBERNETES_VERSIONS = ("1.31.0", kubernetes_validate.utils.latest_version())
SERVICES = tuple(service.role for service in HTTP_SERVICES)
EXPORTER = "pipeline-exporter"
# The project's nginx (deploy/gateway/), in front of the services; it runs no project code.
GATEWAY = "gateway"
COMPOSE = REPO_ROOT / "docker-compose.yml"


def render(overlay: str) -> list[dict[str, Any]]:
    try:
        return kustomize.render(overlay)
    except kustomize.RenderError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="module", params=OVERLAYS)
def manifests(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return render(request.param)


def of_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def containers(docs: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    for doc in docs:
        if doc["kind"] in {"Deployment", "Job"}:
            for container in doc["spec"]["template"]["spec"]["containers"]:
                yield doc["metadata"]["name"], container


def project_containers(docs: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, Any]]]:
    """The containers of the project's images: every one but the gateway's nginx."""
    return ((name, c) for name, c in containers(docs) if name != GATEWAY)


def test_every_manifest_is_valid_for_kubernetes(manifests: list[dict[str, Any]]) -> None:
    for version in KUBERNETES_VERSIONS:
        for doc in manifests:
            kubernetes_validate.validate(doc, version, strict=True)


def test_the_validator_rejects_a_broken_manifest(manifests: list[dict[str, Any]]) -> None:
    deployment = dict(of_kind(manifests, "Deployment")["orders"])
    broken = {**deployment, "spec": {**deployment["spec"], "replicas": "two"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[0], strict=True)


def test_services_have_probes_resources_autoscaling_and_disruption_budgets(
    manifests: list[dict[str, Any]],
) -> None:
    deployments = of_kind(manifests, "Deployment")
    assert set(deployments) == {*SERVICES, EXPORTER, GATEWAY}
    deployments = {name: d for name, d in deployments.items() if name in SERVICES}
    assert set(of_kind(manifests, "Service")) == {*SERVICES, EXPORTER, GATEWAY}
    hpas = of_kind(manifests, "HorizontalPodAutoscaler")
    pdbs = of_kind(manifests, "PodDisruptionBudget")
    for name, container in containers(manifests):
        assert set(container["resources"]) == {"requests", "limits"}, name
        if name in deployments:
            # Out of rotation while the database or the relay is down; restarted only when
            # the process stops answering.
            assert container["readinessProbe"]["httpGet"]["path"] == READY_PATH, name
            assert container["livenessProbe"]["httpGet"]["path"] == "/health/live", name
            assert container["args"] == [name]
    for service in HTTP_SERVICES:
        (container,) = deployments[service.role]["spec"]["template"]["spec"]["containers"]
        assert container["ports"] == [{"name": "http", "containerPort": service.port(Settings())}]
    for name in SERVICES:
        assert hpas[name]["spec"]["scaleTargetRef"]["name"] == name
        assert hpas[name]["spec"]["minReplicas"] <= hpas[name]["spec"]["maxReplicas"]
        labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        selector = pdbs[name]["spec"]["selector"]["matchLabels"]
        assert selector.items() <= labels.items(), name


def test_services_run_the_service_image_and_the_init_job_the_pipeline_one(
    manifests: list[dict[str, Any]],
) -> None:
    for name, container in project_containers(manifests):
        target = "pipeline" if container["args"][0] in PIPELINE_ROLES else "service"
        repository = container["image"].rpartition(":")[0].rpartition("/")[2]
        assert repository == f"cqrs-warehouse-{target}", name
    assert {c["args"][0] for _, c in project_containers(manifests)} >= {*SERVICES, "init"}


def test_every_image_is_pinned(manifests: list[dict[str, Any]]) -> None:
    for name, container in containers(manifests):
        tag = container["image"].rpartition(":")[2]
        assert tag and "/" not in tag and tag != "latest", f"{name}: {container['image']}"


def test_the_ingress_sends_every_request_to_the_gateway(manifests: list[dict[str, Any]]) -> None:
    """The Ingress routes nothing itself: a path sent straight to a service would skip the
    gateway's per-token limit (tests/deploy/test_network_reachability.py: nor could it reach
    one). The token is checked by the gateway, not a second time by the Ingress."""
    ingress = of_kind(manifests, "Ingress")["api-gateway"]
    annotations = ingress["metadata"]["annotations"]
    assert not [a for a in annotations if a.startswith("nginx.ingress.kubernetes.io/auth-")]
    assert not [a for a in annotations if "snippet" in a]  # off in ingress-nginx by default
    paths = [p for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]]
    assert [(p["path"], p["pathType"]) for p in paths] == [("/", "Prefix")]
    assert {p["backend"]["service"]["name"] for p in paths} == {GATEWAY}
    assert "defaultBackend" not in ingress["spec"]
    service = of_kind(manifests, "Service")[GATEWAY]
    assert {p["backend"]["service"]["port"]["name"] for p in paths} <= {
        port["name"] for port in service["spec"]["ports"]
    }


def gateway_routes(docs: list[dict[str, Any]]) -> str:
    """The gateway pod's routing file as its nginx image fills it in: the template mounted
    from its ConfigMap, every placeholder from the environment the pod is given."""
    deployment = of_kind(docs, "Deployment")[GATEWAY]
    spec = deployment["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == "/etc/nginx/templates"]
    (volume,) = [v for v in spec["volumes"] if v["name"] == mount["name"]]
    templates = of_kind(docs, "ConfigMap")[volume["configMap"]["name"]]["data"]
    assert templates == {TEMPLATE.name: TEMPLATE.read_text()}  # compose's file, not a copy
    env: dict[str, str] = {}
    for source in container["envFrom"]:
        env |= of_kind(docs, "ConfigMap")[source["configMapRef"]["name"]]["data"]
    env |= {e["name"]: e["value"] for e in container.get("env", [])}
    return render_routes(TEMPLATE.read_text(), env)


def test_the_gateway_limits_each_token_and_each_address(manifests: list[dict[str, Any]]) -> None:
    routes = gateway_routes(manifests)
    zones = re.findall(r"^limit_req_zone (\S+) zone=(\w+):\S+ rate=(\d+)r/s;", routes, re.M)
    assert {key: zone for key, zone, _ in zones} == {
        "$cqrsw_token_key": "cqrsw_per_token",
        "$binary_remote_addr": "cqrsw_per_address",
    }
    # Both applied to every request of the server (not in one location only).
    applied = re.findall(r"^    limit_req zone=(\w+) burst=(\d+) nodelay;", routes, re.M)
    assert {zone for zone, _ in applied} == {"cqrsw_per_token", "cqrsw_per_address"}
    assert all(int(rate) > 0 for _, _, rate in zones) and all(int(b) > 0 for _, b in applied)
    # Behind the Ingress the connection is the controller's: the client's address is taken
    # from X-Real-IP, which only the controller can send (network policies).
    assert re.search(r"^set_real_ip_from \S+;$", routes, re.M)
    assert "real_ip_header X-Real-IP;" in routes
    # Each gateway pod counts for itself: one token's requests must all meet one pod.
    replicas = of_kind(manifests, "Deployment")[GATEWAY]["spec"]["replicas"]
    annotations = of_kind(manifests, "Ingress")["api-gateway"]["metadata"]["annotations"]
    hash_by = annotations.get("nginx.ingress.kubernetes.io/upstream-hash-by")
    assert replicas == 1 or hash_by == "$http_authorization"
    assert GATEWAY not in of_kind(manifests, "HorizontalPodAutoscaler")


def test_the_gateway_limits_as_compose_s_does(manifests: list[dict[str, Any]]) -> None:
    # The ConfigMap says its rates are compose's: a change to one must reach the other.
    config = of_kind(manifests, "ConfigMap")["cqrsw-gateway"]["data"]
    compose = yaml.safe_load(COMPOSE.read_text())["services"]["gateway"]["environment"]
    limits = [k for k in compose if k.startswith("GATEWAY_") and k.endswith(("_RATE", "_BURST"))]
    assert len(limits) == 4
    assert {k: config[k] for k in limits} == {k: str(compose[k]) for k in limits}


def test_the_gateway_proxies_to_the_services_by_their_kubernetes_names(
    manifests: list[dict[str, Any]],
) -> None:
    routes = gateway_routes(manifests)
    services = of_kind(manifests, "Service")
    for service in HTTP_SERVICES:
        (port,) = services[service.role]["spec"]["ports"]
        upstream = re.search(rf"upstream {service.name} {{\n    server (\S+);", routes)
        assert upstream and upstream.group(1) == f"{service.role}:{port['port']}", service.role
    (port,) = services[GATEWAY]["spec"]["ports"]
    (container,) = of_kind(manifests, "Deployment")[GATEWAY]["spec"]["template"]["spec"][
        "containers"
    ]
    assert container["ports"] == [{"name": port["targetPort"], "containerPort": port["port"]}]
    assert f"listen {port['port']};" in routes


def test_the_gateway_runs_compose_s_image_non_root_with_no_secret(
    manifests: list[dict[str, Any]],
) -> None:
    compose = yaml.safe_load(COMPOSE.read_text())["services"]["gateway"]
    deployment = of_kind(manifests, "Deployment")[GATEWAY]
    spec = deployment["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    assert container["image"] == compose["image"]
    assert spec["automountServiceAccountToken"] is False
    assert spec["enableServiceLinks"] is False  # its environment is the template's values
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert "location = /healthz {" in TEMPLATE.read_text()
    given = yaml.safe_dump([container, spec["volumes"]])
    assert "secret" not in given.lower() and "cqrsw-config" not in given


def test_only_the_gateway_reaches_the_services(manifests: list[dict[str, Any]]) -> None:
    policies = of_kind(manifests, "NetworkPolicy")
    deny = policies["default-deny-ingress"]["spec"]
    assert deny["policyTypes"] == ["Ingress"] and "ingress" not in deny
    read_egress = policies["read-api-egress"]["spec"]["egress"]
    assert 9092 not in {p["port"] for rule in read_egress for p in rule["ports"]}


def secret_values(docs: list[dict[str, Any]]) -> dict[str, str]:
    secrets = of_kind(docs, "Secret")
    if "cqrsw-secrets" in secrets:  # generated by the local overlay
        data = secrets["cqrsw-secrets"]["data"]
        return {k: base64.b64decode(v).decode() for k, v in data.items()}
    template = yaml.safe_load((K8S / "secret.template.yaml").read_text())
    values: dict[str, str] = template["stringData"]
    return values


def filled_secrets(docs: list[dict[str, Any]]) -> dict[str, str]:
    """The Secret's keys as a user fills them in: the local overlay's, or random values."""
    values = secret_values(docs)
    if "cqrsw-secrets" in of_kind(docs, "Secret"):
        return values
    filled = {k: secrets.token_urlsafe(32) for k in values}
    admin = conninfo_to_dict(values["CQRSW_DATABASE_URL"])
    filled["CQRSW_DATABASE_URL"] = make_conninfo(
        "", **{**admin, "password": filled["CQRSW_DATABASE_URL"]}
    )
    return filled


def container_env(
    docs: list[dict[str, Any]], container: dict[str, Any], secret: dict[str, str]
) -> tuple[dict[str, str], set[str]]:
    """What the container's environment holds, and the names of the secret keys it is given."""
    env = dict(of_kind(docs, "ConfigMap")["cqrsw-config"]["data"])
    held: set[str] = set()
    for source in container.get("envFrom", []):
        assert "secretRef" not in source, "a whole Secret given to a container"
    for entry in container.get("env", []):
        ref = entry.get("valueFrom", {}).get("secretKeyRef")
        if ref is not None:
            assert ref["name"] == "cqrsw-secrets"
            held.add(ref["key"])
            env[entry["name"]] = secret[ref["key"]]
        else:
            env[entry["name"]] = entry["value"]
    return env, held | mounted_secret_keys(docs, container)


def mounted_secret_keys(docs: list[dict[str, Any]], container: dict[str, Any]) -> set[str]:
    """The keys of cqrsw-secrets the container mounts as files (each key named, never all)."""
    mounted = {m["name"] for m in container.get("volumeMounts", [])}
    held: set[str] = set()
    for doc in docs:
        if doc["kind"] not in ("Deployment", "Job"):
            continue
        spec = doc["spec"]["template"]["spec"]
        if container not in spec["containers"]:
            continue
        for volume in spec.get("volumes", []):
            secret = volume.get("secret")
            if secret is None or volume["name"] not in mounted:
                continue
            assert secret["secretName"] == "cqrsw-secrets" and secret["items"], volume
            held |= {item["key"] for item in secret["items"]}
    return held


def workload(name: str) -> str:
    return "init" if name == "cqrsw-init" else name


def test_every_cqrsw_variable_is_a_setting_and_the_services_can_start(
    manifests: list[dict[str, Any]],
) -> None:
    secret = filled_secrets(manifests)
    for name, container in project_containers(manifests):
        env, _ = container_env(manifests, container, secret)
        assert check(env) == [], name


def test_each_pod_holds_exactly_the_secrets_it_needs(manifests: list[dict[str, Any]]) -> None:
    dev = of_kind(manifests, "ConfigMap")["cqrsw-config"]["data"]["CQRSW_ENV"] == "dev"
    secret = filled_secrets(manifests)
    for name, container in containers(manifests):
        _, held = container_env(manifests, container, secret)
        if name == GATEWAY:  # it passes tokens on; the read API judges them
            assert held == set(), name
            continue
        needs = set(NEEDS[workload(name)])
        if dev:  # no identity provider on a laptop cluster: the dev-only HS256 secret
            needs.add(JWT_SECRET)
            # and its Kafka (or the Tansu stand-in) takes clients without SASL
            needs -= {kafka_password(user) for user in KAFKA_USERS}
        assert held == needs, name


def test_the_local_overlay_shares_one_key_per_service_with_the_ingest_as_public_keys() -> None:
    """Each write service's pod mounts its own private key; the ConfigMap the Airflow chart
    mounts for the ingest holds exactly their public keys, so the ingest verifies them all."""
    docs = render("local")
    secret = secret_values(docs)
    values = yaml.safe_load((K8S / "airflow" / "values.yaml").read_text())
    (trusted_volume,) = [
        v for v in values["workers"]["extraVolumes"] if v["name"] == "event-trusted-keys"
    ]
    trusted_map = of_kind(docs, "ConfigMap")[trusted_volume["configMap"]["name"]]
    (key,) = [e for e in values["env"] if e["name"] == "CQRSW_EVENT_TRUSTED_KEYS_FILE"]
    jwks = trusted_map["data"][key["value"].rsplit("/", 1)[1]]
    trusted = trusted_from_jwks(json.loads(jwks))
    assert '"d"' not in jwks  # public keys only
    signers = {}
    for service in WRITE_SERVICES:
        (path,) = [p for p in (K8S / "overlays" / "local").rglob(f"{service}.pem")]
        signers[service] = load_signer(path, service)
        assert secret[event_signing_key(service)] == path.read_text()
    assert {k: t.producer for k, t in trusted.by_id.items()} == {
        s.key_id: service for service, s in signers.items()
    }
    deployments = of_kind(docs, "Deployment")
    for service in WRITE_SERVICES:
        (container,) = deployments[service]["spec"]["template"]["spec"]["containers"]
        assert mounted_secret_keys(docs, container) == {event_signing_key(service)}
        env = {e["name"]: e.get("value") for e in container["env"]}
        mount = next(m for m in container["volumeMounts"] if m["name"] == "event-key")
        assert env["CQRSW_EVENT_SIGNING_KEY_FILE"].startswith(mount["mountPath"] + "/")


def test_the_placeholders_of_the_secret_template_are_refused() -> None:
    docs = render("prod")
    template = secret_values(docs)
    for name, container in project_containers(docs):
        env, held = container_env(docs, container, template)
        problems = " ".join(check(env))
        # A key file that holds no key is refused when it is loaded (tests/unit/test_event_keys.py).
        for key in held - mounted_secret_keys(docs, container):
            shown = "CQRSW_DATABASE_URL (its password)" if key == "CQRSW_DATABASE_URL" else key
            assert shown in problems, (name, key)


def test_airflow_pods_get_the_task_roles_passwords_only() -> None:
    values = yaml.safe_load((K8S / "airflow" / "values.yaml").read_text())
    assert "secretRef" not in values["extraEnvFrom"]
    given = {entry["envName"] for entry in values["secret"]}
    assert all(entry["secretKey"] == entry["envName"] for entry in values["secret"])
    # The chart runs every Airflow component with the same list: what the scheduler needs,
    # less what the chart itself provides (the Fernet key, the API's JWT secret).
    chart_made = {AIRFLOW_JWT, AIRFLOW_FERNET, AIRFLOW_ADMIN}
    # Files the task pods alone mount, each key of cqrsw-secrets named.
    mounted = set()
    for volume in values["workers"]["extraVolumes"]:
        if "secret" in volume:
            assert volume["secret"]["secretName"] == "cqrsw-secrets" and volume["secret"]["items"]
            mounted |= {item["key"] for item in volume["secret"]["items"]}
    assert given | mounted == set(NEEDS["airflow-scheduler"]) - chart_made
    assert not given & mounted


def test_prod_overlay_keeps_secrets_out_of_the_repository() -> None:
    docs = render("prod")
    assert "Secret" not in {d["kind"] for d in docs}
    assert of_kind(docs, "ConfigMap")["cqrsw-config"]["data"]["CQRSW_ENV"] == "prod"


def test_airflow_helm_values_use_a_real_executor_and_the_project_image() -> None:
    values = yaml.safe_load((K8S / "airflow" / "values.yaml").read_text())
    assert values["executor"] in {"KubernetesExecutor", "CeleryExecutor"}
    assert values["config"]["core"]["dags_folder"] == "/app/dags"
    prod_images = {name: c["image"] for name, c in containers(render("prod"))}
    image = f"{values['images']['airflow']['repository']}:{values['images']['airflow']['tag']}"
    # Airflow and its task pods run the pipeline image, as the init Job does.
    assert prod_images["cqrsw-init"] == image
    assert image.rpartition(":")[0].endswith("/cqrs-warehouse-pipeline")
    assert values["postgresql"]["enabled"] is False


def test_airflow_version_of_the_helm_values_is_the_one_installed() -> None:
    from importlib.metadata import version

    values = yaml.safe_load((K8S / "airflow" / "values.yaml").read_text())
    assert values["airflowVersion"] == version("apache-airflow")


def test_the_four_service_files_differ_only_in_name_port_and_component() -> None:
    """Kustomize 2 has no templates, so the shape is written four times: keep it one shape."""
    shapes = set()
    for service in HTTP_SERVICES:
        text = (K8S / "base" / f"{service.role}.yaml").read_text()
        component = "read-service" if service.name == "read_api" else "write-service"
        port = str(service.port(Settings()))
        password = f"CQRSW_PG_PASSWORD_{service.name.upper()}"
        text = text.replace(password, "PASSWORD")
        shapes.add(text.replace(service.role, "NAME").replace(port, "PORT").replace(component, "C"))
    assert len(shapes) == 1


def test_the_ingress_serves_https_on_its_host_with_a_rate_limit(
    manifests: list[dict[str, Any]],
) -> None:
    ingress = of_kind(manifests, "Ingress")["api-gateway"]
    annotations = ingress["metadata"]["annotations"]
    hosts = {rule["host"] for rule in ingress["spec"]["rules"]}
    assert hosts and all(hosts)
    assert hosts <= {h for tls in ingress["spec"]["tls"] for h in tls["hosts"]}
    assert all(tls["secretName"] for tls in ingress["spec"]["tls"])
    assert annotations["nginx.ingress.kubernetes.io/force-ssl-redirect"] == "true"
    assert int(annotations["nginx.ingress.kubernetes.io/limit-rps"]) > 0


def test_the_hpa_alone_sets_the_replicas(manifests: list[dict[str, Any]]) -> None:
    """A Deployment's spec.replicas beside an HPA resets the count the HPA chose on each apply."""
    deployments = of_kind(manifests, "Deployment")
    scaled = [
        h["spec"]["scaleTargetRef"]["name"]
        for h in of_kind(manifests, "HorizontalPodAutoscaler").values()
    ]
    assert sorted(scaled) == sorted(SERVICES)
    for name in scaled:
        assert "replicas" not in deployments[name]["spec"], name


def test_each_disruption_budget_lets_a_node_drain_at_the_fewest_replicas(
    manifests: list[dict[str, Any]],
) -> None:
    hpas = of_kind(manifests, "HorizontalPodAutoscaler")
    deployments = of_kind(manifests, "Deployment")
    for name, pdb in of_kind(manifests, "PodDisruptionBudget").items():
        if name in hpas:
            fewest = hpas[name]["spec"]["minReplicas"]
        else:
            fewest = deployments[name]["spec"]["replicas"]
        spec = pdb["spec"]
        if "maxUnavailable" in spec:
            assert int(spec["maxUnavailable"]) >= 1, name
        else:
            assert fewest - int(spec["minAvailable"]) >= 1, f"{name}: no pod may ever be evicted"


def test_selectors_carry_no_common_label(manifests: list[dict[str, Any]]) -> None:
    """part-of labels objects, not selectors: in a policy it would exclude other charts' pods."""
    text = yaml.safe_dump([d["spec"] for d in manifests if d["kind"] == "NetworkPolicy"])
    assert "part-of" not in text
    for deployment in of_kind(manifests, "Deployment").values():
        assert "app.kubernetes.io/part-of" not in deployment["spec"]["selector"]["matchLabels"]
        assert deployment["metadata"]["labels"]["app.kubernetes.io/part-of"] == "cqrs-warehouse"


def relabelled_job(config: dict[str, Any], pod_labels: dict[str, str]) -> str:
    """The job label the scrape configuration's relabelling gives a pod (replace rules only)."""
    labels = {
        "__meta_kubernetes_pod_label_" + k.replace(".", "_").replace("/", "_").replace("-", "_"): v
        for k, v in pod_labels.items()
    }
    for rule in config["relabel_configs"]:
        if rule.get("action", "replace") != "replace" or rule["target_label"] != "job":
            continue
        value = ";".join(labels.get(s, "") for s in rule["source_labels"])
        if re.fullmatch(rule.get("regex", "(.*)"), value):
            labels["job"] = re.sub(
                rule.get("regex", "(.*)"), rule.get("replacement", "$1").replace("$1", r"\1"), value
            )
    return labels["job"]


def test_the_exporter_runs_and_prometheus_scrapes_it_and_the_services(
    manifests: list[dict[str, Any]],
) -> None:
    exporter = of_kind(manifests, "Deployment")[EXPORTER]
    (container,) = exporter["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["metrics"]
    assert container["ports"] == [{"name": "metrics", "containerPort": Settings().metrics_port}]
    scrape = yaml.safe_load(
        of_kind(manifests, "ConfigMap")["cqrsw-prometheus-scrape"]["data"]["cqrsw-scrape.yml"]
    )
    (job,) = scrape["scrape_configs"]
    (sd,) = job["kubernetes_sd_configs"]
    assert sd["namespaces"]["names"] == [exporter["metadata"]["namespace"]]
    compose_jobs = {
        j["job_name"]
        for j in yaml.safe_load((REPO_ROOT / "deploy/prometheus/prometheus.yml").read_text())[
            "scrape_configs"
        ]
    }
    jobs = set()
    for name, deployment in of_kind(manifests, "Deployment").items():
        template = deployment["spec"]["template"]
        if name == GATEWAY:  # nginx serves no metrics; compose's Prometheus skips it too
            assert "annotations" not in template["metadata"]
            continue
        annotations = template["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true", name
        ports = {p["containerPort"] for c in template["spec"]["containers"] for p in c["ports"]}
        assert int(annotations["prometheus.io/port"]) in ports, name
        jobs.add(relabelled_job(job, template["metadata"]["labels"]))
    # The alerts and the dashboard select these job names, in compose and in the cluster.
    assert jobs == compose_jobs


def test_traces_are_exported_by_the_variables_the_code_reads(
    manifests: list[dict[str, Any]],
) -> None:
    config = of_kind(manifests, "ConfigMap")["cqrsw-config"]["data"]
    settings = settings_from({**config, **filled_secrets(manifests)})
    assert settings.otel_exporter == "otlp-http"
    assert settings.otel_endpoint is not None
    assert settings.otel_endpoint.endswith(":4318/v1/traces")
    assert not [k for k in config if k.startswith("OTEL_")], "the code reads no OTEL_* variable"
    for name, container in containers(manifests):
        assert not [e for e in container.get("env", []) if e["name"].startswith("OTEL_")], name
