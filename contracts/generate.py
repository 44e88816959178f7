"""Every file derived from the event catalogue; ``python -m contracts.generate`` writes them.

A unit test renders them again and fails while a file on disk differs (tests/unit/
test_catalogue.py), so a change to ``contracts/`` cannot leave one behind.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

import orjson

from config.settings import REPO_ROOT
from contracts import dbt_sources, docs, events_doc, kafka_acls, staging_models, view_models
from contracts.catalog import CATALOGUE, EVENT_TYPES
from contracts.compatibility import (
    ENVELOPE_FILE,
    KEPT_ENVELOPE_FILE,
    PUBLISHED_DIR,
    envelope_changes,
    schema_file,
)
from contracts.envelope import CONTRACTS_DIR

# Run by compose's kafka-init (docker-compose.yml): topics, SCRAM users and the topic ACLs.
KAFKA_INIT_SCRIPT = REPO_ROOT / "deploy" / "kafka" / "init.sh"


def render_envelope() -> str:
    """The envelope schema with its ``event_type`` enum equal to the catalogue."""
    schema = orjson.loads(ENVELOPE_FILE.read_bytes())
    schema["properties"]["event_type"]["enum"] = list(EVENT_TYPES)
    return orjson.dumps(schema, option=orjson.OPT_INDENT_2).decode() + "\n"


GENERATED: dict[Path, Callable[[], str]] = {
    ENVELOPE_FILE: render_envelope,
    docs.DOCS_FILE: docs.render,
    dbt_sources.SOURCES_FILE: dbt_sources.render_sources,
    dbt_sources.STAGED_MACRO_FILE: dbt_sources.render_staged_macro,
    events_doc.EVENTS_DOC: events_doc.render,
    KAFKA_INIT_SCRIPT: kafka_acls.render_init_script,
    view_models.VIEW_MODELS_FILE: view_models.render,
    **{
        path: partial(staging_models.render, event, kind)
        for path, (event, kind) in staging_models.files().items()
    },
}


def unkept() -> list[tuple[Path, Path]]:
    """(contract, kept copy) of each listed version not yet kept in ``contracts/published/``."""
    pairs = []
    for event in CATALOGUE:
        for version in event.versions:
            name = schema_file(event.name, version)
            kept = PUBLISHED_DIR / name
            if not kept.exists():
                pairs.append((CONTRACTS_DIR / "events" / name, kept))
    return pairs


def envelope_to_keep() -> bool:
    """Whether the kept envelope is missing or behind a change it may take (a new event type).

    A change that breaks old events or readers is not kept: the compatibility check refuses it.
    """
    if not KEPT_ENVELOPE_FILE.is_file():
        return True
    kept, now = orjson.loads(KEPT_ENVELOPE_FILE.read_bytes()), orjson.loads(render_envelope())
    return kept != now and not envelope_changes(kept, now)


def stale() -> list[Path]:
    """Generated files that differ from what the catalogue renders, and copies not yet kept."""
    differ = [
        path
        for path, render in GENERATED.items()
        if not path.is_file() or path.read_text() != render()
    ]
    envelope = [KEPT_ENVELOPE_FILE] if envelope_to_keep() else []
    return differ + [kept for _, kept in unkept()] + envelope


def main() -> int:
    for path, render in GENERATED.items():
        path.write_text(render())
        print(f"wrote {path.relative_to(REPO_ROOT)}")
    # A version is kept once, as first published; the check compares later edits with it.
    for contract, kept in unkept():
        if contract.is_file():
            kept.parent.mkdir(exist_ok=True)
            kept.write_bytes(contract.read_bytes())
            print(f"kept {kept.relative_to(REPO_ROOT)}")
    if envelope_to_keep():
        KEPT_ENVELOPE_FILE.write_text(render_envelope())
        print(f"kept {KEPT_ENVELOPE_FILE.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
