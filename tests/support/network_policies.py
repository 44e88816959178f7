"""Who may reach whom: Kubernetes NetworkPolicy semantics over a set of pods, offline.

A connection from pod A to port P of pod B is allowed when A's egress allows it and B's
ingress allows it. A pod that no policy of its namespace selects for a direction is open in
that direction; a selected pod allows what any selecting policy's rules allow (rules add up,
none subtract). A rule's peers are pods (podSelector, in the policy's namespace unless a
namespaceSelector widens it) or whole namespaces; missing peers or ports mean all. A named
port is the destination container's port of that name. ipBlock peers match no pod here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

Labels = Mapping[str, str]
Policy = Mapping[str, Any]


@dataclass(frozen=True)
class Pod:
    name: str
    namespace: str
    labels: Labels
    ports: Mapping[str, int] = field(default_factory=dict)  # named container ports


def selects(selector: Mapping[str, Any] | None, labels: Labels) -> bool:
    """A LabelSelector (matchLabels and matchExpressions) against labels; {} selects all."""
    if selector is None:
        return True
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr["key"], expr["operator"], expr.get("values", [])
        present = key in labels
        if op == "In" and not (present and labels[key] in values):
            return False
        if op == "NotIn" and present and labels[key] in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True


def namespace_labels(namespace: str) -> dict[str, str]:
    return {"kubernetes.io/metadata.name": namespace}


def peer_matches(peer: Mapping[str, Any], pod: Pod, policy_namespace: str) -> bool:
    if "ipBlock" in peer:
        return False
    pods, namespaces = peer.get("podSelector"), peer.get("namespaceSelector")
    if namespaces is None and pod.namespace != policy_namespace:
        return False
    if namespaces is not None and not selects(namespaces, namespace_labels(pod.namespace)):
        return False
    return selects(pods, pod.labels)


def port_matches(
    ports: Iterable[Mapping[str, Any]] | None, port: int, protocol: str, target: Pod
) -> bool:
    if not ports:
        return True
    for spec in ports:
        if spec.get("protocol", "TCP") != protocol:
            continue
        wanted = spec.get("port")
        if wanted is None:
            return True
        number = target.ports.get(wanted) if isinstance(wanted, str) else wanted
        end = spec.get("endPort", number)
        if number is not None and number <= port <= end:
            return True
    return False


def _allowed(
    direction: str, subject: Pod, peer: Pod, port: int, protocol: str, target: Pod,
    policies: Iterable[Policy],
) -> bool:  # fmt: skip
    """Whether ``subject``'s ``direction`` policies let traffic to/from ``peer`` pass."""
    kind, peers_key = ("ingress", "from") if direction == "Ingress" else ("egress", "to")
    selecting = [
        p
        for p in policies
        if p["metadata"]["namespace"] == subject.namespace
        and direction in p["spec"].get("policyTypes", ["Ingress"])
        and selects(p["spec"]["podSelector"], subject.labels)
    ]
    if not selecting:
        return True
    for policy in selecting:
        for rule in policy["spec"].get(kind) or []:
            peers = rule.get(peers_key)
            peer_ok = not peers or any(
                peer_matches(p, peer, policy["metadata"]["namespace"]) for p in peers
            )
            if peer_ok and port_matches(rule.get("ports"), port, protocol, target):
                return True
    return False


def can_reach(
    source: Pod, target: Pod, port: int | str, policies: Iterable[Policy], protocol: str = "TCP"
) -> bool:
    """Whether ``source`` may connect to ``port`` (a number or a port name) of ``target``."""
    policies = list(policies)
    number = target.ports[port] if isinstance(port, str) else port
    return _allowed("Egress", source, target, number, protocol, target, policies) and _allowed(
        "Ingress", target, source, number, protocol, target, policies
    )


def pods_of(manifests: Iterable[Mapping[str, Any]]) -> dict[str, Pod]:
    """The pods the rendered Deployments and Jobs make, by workload name."""
    pods = {}
    for doc in manifests:
        if doc["kind"] not in {"Deployment", "Job"}:
            continue
        template = doc["spec"]["template"]
        ports = {
            p["name"]: p["containerPort"]
            for c in template["spec"]["containers"]
            for p in c.get("ports", [])
            if "name" in p
        }
        name = doc["metadata"]["name"]
        pods[name] = Pod(name, doc["metadata"]["namespace"], template["metadata"]["labels"], ports)
    return pods
