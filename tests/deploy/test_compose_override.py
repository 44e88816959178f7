"""The podman override of docker-compose.yml replaces images and nothing else."""

from __future__ import annotations

from typing import Any

import yaml

from config.component_secrets import KAFKA_NODES
from tests.support.podman import (
    COMPOSE_FILE,
    OVERRIDE_FILE,
    PLAINTEXT_KAFKA_FILE,
    override_images,
    project_builds,
    standin_folder,
)


class ComposeLoader(yaml.SafeLoader):
    """YAML as compose reads it: `!override` marks a value that replaces, not merges."""


def _overriding(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    return loader.construct_scalar(node)  # type: ignore[arg-type]


ComposeLoader.add_constructor("!override", _overriding)


def load(path: Any) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.load(path.read_text(), Loader=ComposeLoader)
    return loaded


def test_the_override_changes_only_images_of_services_that_are_pulled() -> None:
    compose, override = load(COMPOSE_FILE), load(OVERRIDE_FILE)
    assert set(override) == {"services"}
    built_here = project_builds(compose)
    for name, service in override["services"].items():
        assert name in compose["services"], f"{name} is not a service of docker-compose.yml"
        assert set(service) <= {"image", "build"}, f"{name}: only the image may change"
        original = compose["services"][name]
        assert "build" not in original, f"{name} is built from the repository, not pulled"
        assert original["image"] not in built_here


def test_every_pulled_image_has_a_stand_in() -> None:
    compose = load(COMPOSE_FILE)
    pulled = {name for name, service in compose["services"].items() if "build" not in service}
    assert pulled == set(override_images())


def test_every_stand_in_is_built_from_a_containerfile_in_the_repository() -> None:
    for image in set(override_images().values()):
        assert (standin_folder(image) / "Containerfile").is_file(), image


def test_the_stand_in_kafka_override_only_turns_off_what_tansu_cannot_do() -> None:
    """Used with the Tansu stand-in alone: the Kafka clients' protocol, kafka-init's address
    and the nodes' healthcheck; nothing else of docker-compose.yml changes."""
    plaintext = load(PLAINTEXT_KAFKA_FILE)
    compose = load(COMPOSE_FILE)
    for name, service in plaintext["services"].items():
        assert name in compose["services"], name
        if name in KAFKA_NODES:
            assert set(service) == {"healthcheck"}, name
        elif name == "kafka-init":
            assert service == {"environment": {"KAFKA_ADMIN_BOOTSTRAP": "kafka-1:9092"}}
        else:
            assert service == {"environment": {"CQRSW_KAFKA_SECURITY_PROTOCOL": "PLAINTEXT"}}
    clients = {
        name
        for name, service in compose["services"].items()
        if "CQRSW_KAFKA_SECURITY_PROTOCOL" in str(service.get("environment", {}))
    }
    assert clients <= set(plaintext["services"])
