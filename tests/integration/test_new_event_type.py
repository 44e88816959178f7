"""Adding an event type is a short walk: a throwaway `order.shipped` in a copy of the repository.

The test writes, in a temporary copy, the files a person writes for a new event type up to
its staging model (docs/extending.md), runs the generator, and checks that everything the
catalogue implies picked it up: the envelope enum, the dbt sources, the quarantine list,
the docs, the compose topics, the kept copy of the contract, and a dbt manifest in which
the new source feeds its staging model and the quarantine. It counts the files written by
hand and the files generated.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from config.settings import REPO_ROOT

SCHEMA = """{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "order.shipped v1",
  "description": "An order left the warehouse.",
  "type": "object",
  "additionalProperties": false,
  "required": ["order_id", "carrier"],
  "properties": {
    "order_id": {"type": "string", "format": "uuid", "description": "The order shipped."},
    "carrier": {"type": "string", "minLength": 1, "maxLength": 100, "description": "Carrier."}
  }
}
"""
ENTRY = '    EventType("order.shipped", (1,), "orders", "order_id", ("orders_with_invoices",)),\n'
DOMAIN_EVENT = """

@dataclass(frozen=True)
class OrderShipped(DomainEvent, event_type="order.shipped", schema_version=1):
    order_id: UUID
    carrier: str

    @property
    def aggregate_id(self) -> str:
        return str(self.order_id)
"""
STAGING_SQL = """with

source as (

    select * from {{ source('raw', 'order_shipped') }}

),

renamed as (

    select
        source.event_id,
        (source.payload ->> 'order_id')::uuid as order_id,
        source.payload ->> 'carrier' as carrier,
        source.occurred_at,
        source.ingest_txid

    from source

)

select * from renamed
"""
STAGING_YML = """version: 2

models:
  - name: stg_orders__shipped
    description: One row per `order.shipped` event.
    columns:
      - name: event_id
        description: "{{ doc('envelope__event_id') }}"
        data_tests: [unique, not_null]
      - name: order_id
        description: "{{ doc('order_shipped__order_id') }}"
      - name: carrier
        description: "{{ doc('order_shipped__carrier') }}"
      - name: occurred_at
        description: "{{ doc('envelope__occurred_at') }}"
      - name: ingest_txid
        description: "{{ doc('ingest_txid') }}"
"""


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=test", "-c", "user.email=test@example.com", *args],
        cwd=repo, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return done.stdout


def copy_of_repository(target: Path) -> Path:
    listed = git(REPO_ROOT, "ls-files", "-co", "--exclude-standard", "-z").split("\0")
    for name in filter(None, listed):
        source = REPO_ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    git(target, "init", "-q")
    git(target, "add", "-A")
    git(target, "commit", "-q", "-m", "baseline")
    return target


def python(repo: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, *args], cwd=repo, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def test_a_new_event_type_is_a_few_files_and_the_rest_is_derived(tmp_path: Path) -> None:
    repo = copy_of_repository(tmp_path / "repo")
    written = {
        "contracts/events/order.shipped.v1.schema.json": SCHEMA,
        "dbt_project/models/staging/stg_orders__shipped.sql": STAGING_SQL,
        "dbt_project/models/staging/stg_orders__shipped.yml": STAGING_YML,
    }
    for name, text in written.items():
        (repo / name).write_text(text)
    catalog = repo / "contracts" / "catalog.py"
    anchor = '    EventType("stock.updated"'
    catalog.write_text(catalog.read_text().replace(anchor, ENTRY + anchor))
    domain = repo / "services" / "orders" / "domain.py"
    domain.write_text(domain.read_text() + DOMAIN_EVENT)
    by_hand = {*written, "contracts/catalog.py", "services/orders/domain.py"}

    python(repo, "-m", "contracts.generate")

    changed = {line[3:] for line in git(repo, "status", "--porcelain", "-uall").splitlines()}
    generated = changed - by_hand
    assert generated == {
        "contracts/envelope.schema.json",
        "contracts/published/order.shipped.v1.schema.json",
        "dbt_project/macros/staged_events.sql",
        "dbt_project/models/staging/_contracts__docs.md",
        "dbt_project/models/staging/_staging__sources.yml",
        "deploy/topics.env",
        "docs/events.md",
    }
    assert len(by_hand) <= 12
    print(f"files written by hand: {len(by_hand)}, generated: {len(generated)}")
    assert "order.shipped" in (repo / "deploy" / "topics.env").read_text()

    # The registry's own checks pass in the copy: current files, compatibility, producers.
    python(
        repo, "-m", "pytest", "-q", "-p", "no:cacheprovider",
        "tests/unit/test_catalogue.py", "tests/unit/test_compatibility.py",
        "tests/unit/test_contract_docs.py",
    )  # fmt: skip
    # dbt reads the new source and staging model; the quarantine lists the new table.
    python(
        repo, "-c",
        "from config.settings import Settings; from pipeline.tasks.dbt import build_manifest;"
        " build_manifest(Settings())",
    )  # fmt: skip
    manifest = json.loads(
        (repo / "dbt_project" / "target" / "parsed" / "manifest.json").read_text()
    )
    source = "source.cqrs_warehouse.raw.order_shipped"
    assert source in manifest["sources"]
    staged = manifest["nodes"]["model.cqrs_warehouse.stg_orders__shipped"]
    assert staged["depends_on"]["nodes"] == [source]
    quarantine = manifest["nodes"]["model.cqrs_warehouse.stg_raw__quarantined"]
    assert {source, staged["unique_id"]} <= set(quarantine["depends_on"]["nodes"])
