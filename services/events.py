"""Typed domain events, each class mapped once to its contract's event type and version.

An aggregate records instances of these; ``envelope`` turns one into the validated JSON
envelope that the outbox stores and the relay publishes.
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any, ClassVar

from contracts.catalog import CURRENT_SCHEMA_VERSION
from contracts.envelope import EventMeta, make_event


@dataclasses.dataclass(frozen=True, kw_only=True)
class DomainEvent:
    """Something that happened to an aggregate; every field but the version is payload.

    Subclasses name their contract in the class statement::

        class OrderCreated(DomainEvent, event_type="order.created", schema_version=2): ...
    """

    event_type: ClassVar[str]
    schema_version: ClassVar[int]
    registry: ClassVar[dict[str, type[DomainEvent]]] = {}

    aggregate_version: int

    def __init_subclass__(cls, *, event_type: str, schema_version: int, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Producers write the current version only; a class written for another one is a bug.
        if CURRENT_SCHEMA_VERSION.get(event_type) != schema_version:
            raise TypeError(f"{cls.__name__}: {event_type} v{schema_version} is not current")
        if event_type in DomainEvent.registry:
            raise TypeError(f"{cls.__name__}: {event_type} is already mapped")
        cls.event_type = event_type
        cls.schema_version = schema_version
        DomainEvent.registry[event_type] = cls

    @property
    def aggregate_id(self) -> str:
        raise NotImplementedError

    @property
    def payload(self) -> dict[str, Any]:
        """The fields as JSON values, in the shape of the payload contract."""
        return {
            f.name: _json_value(getattr(self, f.name))
            for f in dataclasses.fields(self)
            if f.name != "aggregate_version"
        }


def _json_value(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, tuple | list):
        return [_json_value(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _json_value(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value


def envelope(event: DomainEvent, meta: EventMeta) -> dict[str, Any]:
    """The validated envelope of ``event``, as the outbox stores it."""
    return make_event(
        event.event_type,
        aggregate_id=event.aggregate_id,
        aggregate_version=event.aggregate_version,
        payload=event.payload,
        meta=meta,
    )
