"""Contract compatibility: what a change to a payload schema breaks, and whether it may.

*Backward* compatible: every event valid under the old schema is valid under the new one
(new readers, the ingest and dead-letter replay included, still accept what the log holds).
*Forward* compatible: every event valid under the new schema is valid under the old one
(readers not yet upgraded accept what upgraded producers write). *Full*: both.

A published version (kept in ``contracts/published/``) may change its words only: any
change that breaks either direction is refused. A change that must break one gets a new
version, listed in the catalogue, with its upcaster (``contracts/upcasting.py`` for Python
readers, the staging model for the warehouse) and a dbt unit test on that staging model fed
rows of every version. The envelope has no versions (every event carries the one shape), so
it is compared with its kept copy and may change only where nothing breaks, but for a new
value of ``event_type``: a new event type announced in the catalogue. docs/compatibility.md
says the same for people.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import yaml

from config.settings import DBT_PROJECT_DIR
from contracts.catalog import CATALOGUE, EventType
from contracts.envelope import CONTRACTS_DIR

PUBLISHED_DIR = CONTRACTS_DIR / "published"
ENVELOPE_FILE = CONTRACTS_DIR / "envelope.schema.json"
KEPT_ENVELOPE_FILE = PUBLISHED_DIR / "envelope.schema.json"
STAGING_DIR = DBT_PROJECT_DIR / "models" / "staging"

BACKWARD, FORWARD = "backward", "forward"
# Words for people: they change nothing an event or a reader can trip over.
DOC_KEYWORDS = frozenset({"description", "title", "$comment", "examples", "$schema"})
STRUCTURE = frozenset({"properties", "required", "items", "type", "enum"})
LOWER_BOUNDS = ("minimum", "minLength", "minItems", "exclusiveMinimum")
UPPER_BOUNDS = ("maximum", "maxLength", "maxItems", "exclusiveMaximum")

Schema = Mapping[str, Any]


@dataclass(frozen=True)
class Change:
    """One difference between two schemas and the directions it breaks."""

    path: str
    what: str
    breaks: frozenset[str]

    def __str__(self) -> str:
        broken = " and ".join(sorted(self.breaks)) or "nothing"
        return f"{self.path or '/'}: {self.what} (breaks {broken} compatibility)"


# The one envelope change that old readers survive by design: a new event type, which the
# ingest of an older release dead-letters until it is upgraded (deploy readers first).
ENVELOPE_MAY_GROW = Change("/event_type", "enum values added", frozenset({FORWARD}))
# And the optional members of a new signature version: an ingest of an older release
# dead-letters such events until it is upgraded, and `cqrsw dead-letters replay` takes them
# in then (deploy readers first, as for a new event type; docs/adr/signed-events.md).
SIGNATURE_PATH = "/signature/"


def _may_change(change: Change) -> bool:
    if change == ENVELOPE_MAY_GROW:
        return True
    return (
        change.path.startswith(SIGNATURE_PATH)
        and change.what == "field added"
        and change.breaks == frozenset({FORWARD})
    )


def _types(schema: Schema) -> set[str]:
    kinds = schema.get("type", [])
    return {kinds} if isinstance(kinds, str) else set(kinds)


def _bound(schema: Schema, key: str, default: float) -> float:
    value = schema.get(key)
    return float(value) if isinstance(value, int | float) else default


def _properties(old: Schema, new: Schema, path: str) -> Iterable[Change]:
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    old_req, new_req = set(old.get("required", [])), set(new.get("required", []))
    closed_old = old.get("additionalProperties") is False
    closed_new = new.get("additionalProperties") is False
    for name in old_props.keys() - new_props.keys():
        breaks = {BACKWARD} if closed_new else set()
        breaks |= {FORWARD} if name in old_req else set()
        yield Change(f"{path}/{name}", "field removed", frozenset(breaks))
    for name in new_props.keys() - old_props.keys():
        breaks = {FORWARD} if closed_old else set()
        breaks |= {BACKWARD} if name in new_req else set()
        yield Change(f"{path}/{name}", "field added", frozenset(breaks))
    for name in sorted(old_props.keys() & new_props.keys()):
        yield from schema_changes(old_props[name], new_props[name], f"{path}/{name}")
    for name in sorted((new_req - old_req) & old_props.keys()):
        yield Change(f"{path}/{name}", "now required", frozenset({BACKWARD}))
    for name in sorted((old_req - new_req) & new_props.keys()):
        yield Change(f"{path}/{name}", "no longer required", frozenset({FORWARD}))


def _enum(old: Schema, new: Schema, path: str) -> Iterable[Change]:
    if "enum" not in old and "enum" not in new:
        return
    old_values = old.get("enum")
    new_values = new.get("enum")
    if old_values is None:
        yield Change(path, "values now limited to a list", frozenset({BACKWARD}))
    elif new_values is None:
        yield Change(path, "values no longer limited to a list", frozenset({FORWARD}))
    else:
        if set(old_values) - set(new_values):
            yield Change(path, "enum values removed", frozenset({BACKWARD}))
        if set(new_values) - set(old_values):
            yield Change(path, "enum values added", frozenset({FORWARD}))


def _bounds(old: Schema, new: Schema, path: str) -> Iterable[Change]:
    for key in LOWER_BOUNDS:
        before, after = _bound(old, key, -math.inf), _bound(new, key, -math.inf)
        if after > before:
            yield Change(path, f"{key} raised", frozenset({BACKWARD}))
        elif after < before:
            yield Change(path, f"{key} lowered", frozenset({FORWARD}))
    for key in UPPER_BOUNDS:
        before, after = _bound(old, key, math.inf), _bound(new, key, math.inf)
        if after < before:
            yield Change(path, f"{key} lowered", frozenset({BACKWARD}))
        elif after > before:
            yield Change(path, f"{key} raised", frozenset({FORWARD}))


def schema_changes(old: Schema, new: Schema, path: str = "") -> list[Change]:
    """Every difference that matters to an event or a reader, with what it breaks."""
    found = [*_properties(old, new, path), *_enum(old, new, path), *_bounds(old, new, path)]
    if _types(old) != _types(new):
        breaks = {BACKWARD} if _types(old) - _types(new) else set()
        breaks |= {FORWARD} if _types(new) - _types(old) else set()
        found.append(Change(path, "type changed", frozenset(breaks)))
    if isinstance(old.get("items"), Mapping) and isinstance(new.get("items"), Mapping):
        found += schema_changes(old["items"], new["items"], f"{path}/[]")
    if old.get("additionalProperties") is False and new.get("additionalProperties") is not False:
        found.append(Change(path, "other fields now allowed", frozenset({FORWARD})))
    if new.get("additionalProperties") is False and old.get("additionalProperties") is not False:
        found.append(Change(path, "other fields now refused", frozenset({BACKWARD})))
    handled = DOC_KEYWORDS | STRUCTURE | {"additionalProperties", *LOWER_BOUNDS, *UPPER_BOUNDS}
    for key in sorted((old.keys() | new.keys()) - handled):
        if old.get(key) != new.get(key):
            # pattern, format, const, x-integer-literal: no cheap proof either way
            found.append(Change(path, f"{key} changed", frozenset({BACKWARD, FORWARD})))
    return [change for change in found if change.breaks]


def envelope_changes(kept: Schema, now: Schema) -> list[Change]:
    """What a change of the envelope breaks, but for a new event type or signature member."""
    return [change for change in schema_changes(kept, now) if not _may_change(change)]


def _load(path: Any) -> dict[str, Any]:
    loaded: dict[str, Any] = orjson.loads(path.read_bytes())
    return loaded


def schema_file(event_type: str, version: int) -> str:
    return f"{event_type}.v{version}.schema.json"


def upcast_tested_versions(event: EventType) -> set[int]:
    """Versions fed to a dbt unit test of the event's staging model (rows of its raw table)."""
    path = STAGING_DIR / f"{event.staging_model}.yml"
    if not path.is_file():
        return set()
    source = f"source('raw', '{event.raw_table}')"
    found = set()
    for test in yaml.safe_load(path.read_text()).get("unit_tests", []):
        if test.get("model") != event.staging_model:
            continue
        for given in test.get("given", []):
            if given.get("input") == source:
                found |= {row.get("schema_version") for row in given.get("rows", [])}
    return {version for version in found if isinstance(version, int)}


@dataclass(frozen=True)
class Registry:
    """What the check reads: the schemas now, the kept copies, the upcasters, the tests."""

    catalogue: tuple[EventType, ...]
    schemas: Mapping[tuple[str, int], Schema]
    published: Mapping[tuple[str, int], Schema]
    upcasters: Mapping[tuple[str, int], Callable[..., Any]]
    tested: Mapping[str, set[int]]
    envelope: Schema
    kept_envelope: Schema | None


def problems(registry: Registry) -> list[str]:
    """Why the contracts may not ship as they are (empty: they may)."""
    found: list[str] = []
    if registry.kept_envelope is None:
        found.append("no kept copy of the envelope: run python -m contracts.generate")
    else:
        for change in envelope_changes(registry.kept_envelope, registry.envelope):
            found.append(
                f"the envelope changed; {change}. Every event in the log carries it: only a "
                "new event_type value may be added (docs/compatibility.md)"
            )
    listed = {(e.name, v) for e in registry.catalogue for v in e.versions}
    for key in sorted(registry.published.keys() - listed):
        found.append(
            f"{key[0]} v{key[1]} was published and is gone from the catalogue or from "
            "contracts/events/: the log still holds its events; keep it"
        )
    for key in sorted(registry.schemas.keys() - listed):
        found.append(f"{schema_file(*key)} is not a version the catalogue lists")
    for event in registry.catalogue:
        if list(event.versions) != list(range(1, len(event.versions) + 1)):
            found.append(f"{event.name}: versions {event.versions} are not 1, 2, ... in order")
        for version in event.versions:
            key = (event.name, version)
            if key not in registry.schemas:
                found.append(f"{event.name} v{version}: no {schema_file(*key)}")
                continue
            if key in registry.published:
                for change in schema_changes(registry.published[key], registry.schemas[key]):
                    found.append(
                        f"{event.name} v{version} was published; {change}. Make it a new "
                        "version with its upcaster and a test instead (docs/compatibility.md)"
                    )
            if version > 1 and (event.name, version - 1) not in registry.upcasters:
                found.append(
                    f"{event.name} v{version}: no upcaster from v{version - 1} in "
                    "contracts/upcasting.py"
                )
        untested = set(event.versions) - registry.tested.get(event.name, set())
        if len(event.versions) > 1 and untested:
            rows = ", ".join(f"v{v}" for v in sorted(untested))
            found.append(
                f"{event.name}: no dbt unit test of {event.staging_model} given {rows} rows "
                "(its upcast in staging is untested)"
            )
    return found


def repository_registry() -> Registry:
    """The registry as the repository holds it."""
    from contracts.upcasting import UPCASTERS

    schemas = {}
    for path in (CONTRACTS_DIR / "events").glob("*.schema.json"):
        name, version = path.name.removesuffix(".schema.json").rsplit(".v", 1)
        schemas[(name, int(version))] = _load(path)
    published = {}
    for path in PUBLISHED_DIR.glob("*.v*.schema.json"):
        name, version = path.name.removesuffix(".schema.json").rsplit(".v", 1)
        published[(name, int(version))] = _load(path)
    tested = {event.name: upcast_tested_versions(event) for event in CATALOGUE}
    kept = _load(KEPT_ENVELOPE_FILE) if KEPT_ENVELOPE_FILE.is_file() else None
    envelope = _load(ENVELOPE_FILE)
    return Registry(CATALOGUE, schemas, published, UPCASTERS, tested, envelope, kept)
