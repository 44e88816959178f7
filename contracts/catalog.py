"""The one registry of events: each type, its versions, producer, key and the marts it feeds.

Everything else that names an event type is derived from ``CATALOGUE``: the envelope's
``event_type`` enum, the dbt sources and the quarantine list (``contracts.generated``),
``docs/events.md``, the topic lists, ``Mart.topics`` and the journeys' ``MARTS_OF``.
A payload schema per version lives beside it in ``contracts/events/``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EventType:
    """One event type as the registry declares it."""

    name: str  # past tense, ``<entity>.<verb>``; also its Kafka topic
    versions: tuple[int, ...]  # every payload version published, oldest first
    producer: str  # the service that records it (the envelope's ``producer``)
    partition_key: str  # payload field equal to aggregate_id: the Kafka message key
    marts: tuple[str, ...]  # the marts folded from it
    # A staging model written by hand (an upcast, a special cast or test); else generated
    # from the payload contract (contracts/staging_models.py).
    staged_by_hand: bool = False

    @property
    def topic(self) -> str:
        return self.name

    @property
    def current_version(self) -> int:
        """The version producers write now; older ones are upcast in dbt staging."""
        return self.versions[-1]

    @property
    def raw_table(self) -> str:
        """``order.created`` -> ``order_created`` (in the ``raw`` schema)."""
        return self.name.replace(".", "_")

    @property
    def staging_model(self) -> str:
        """``order.created`` from ``orders`` -> ``stg_orders__created``."""
        return f"stg_{self.producer}__{self.name.split('.', 1)[1]}"


ORDERS = ("orders_with_invoices",)
STOCK = ("products", "product_stock_daily")
CATALOGUE: tuple[EventType, ...] = (
    EventType("order.created", (1, 2), "orders", "order_id", ORDERS, staged_by_hand=True),
    EventType("order.cancelled", (1,), "orders", "order_id", ORDERS, staged_by_hand=True),
    EventType("invoice.created", (1,), "invoices", "invoice_id", ORDERS, staged_by_hand=True),
    EventType("stock.updated", (1, 2), "stock", "product_id", STOCK, staged_by_hand=True),
)
BY_NAME: dict[str, EventType] = {event.name: event for event in CATALOGUE}

EVENT_TYPES: tuple[str, ...] = tuple(event.name for event in CATALOGUE)
# Each event type travels on a topic of the same name.
TOPICS: tuple[str, ...] = tuple(event.topic for event in CATALOGUE)
# What producers write now; raw keeps older versions as they arrived, staging upcasts them.
CURRENT_SCHEMA_VERSION: dict[str, int] = {e.name: e.current_version for e in CATALOGUE}
# Which marts each event type is built into.
MARTS_OF: dict[str, tuple[str, ...]] = {event.name: event.marts for event in CATALOGUE}
# The one service that emits each event type: the ingest trusts an event of a type only when
# a key of that producer signed it (contracts/signatures.py).
PRODUCER_OF: dict[str, str] = {event.name: event.producer for event in CATALOGUE}
PRODUCERS: tuple[str, ...] = tuple(dict.fromkeys(PRODUCER_OF.values()))


def raw_table(event_type: str) -> str:
    """Name of the raw warehouse table of a topic: ``order.created`` -> ``order_created``."""
    return event_type.replace(".", "_")


def staging_models_feeding(mart: str) -> tuple[str, ...]:
    """The staging models a mart is folded from, in catalogue order."""
    return tuple(event.staging_model for event in CATALOGUE if mart in event.marts)


def events_keyed_by(key: str) -> tuple[EventType, ...]:
    """The event types of one aggregate: those whose partition key is ``key``."""
    return tuple(event for event in CATALOGUE if event.partition_key == key)


def topics_feeding(mart: str) -> tuple[str, ...]:
    """The topics a mart is folded from, in catalogue order."""
    return tuple(event.topic for event in CATALOGUE if mart in event.marts)
