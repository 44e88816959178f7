"""Adding an event type is a short walk: a throwaway `order.shipped` in a copy of the repository.

In a temporary copy, the test writes what docs/extending.md says a person writes for a new
event type that the orders service emits and `orders_with_invoices` and the read API show:
the contract, the catalogue entry, the producer (domain, handler, route), the raw table's
migration, the mart's SQL and YAML, the analyst's docs and an end-to-end test. It runs the
generator, counts the files written by hand (at most 12) and the files generated, runs the
registry's own checks in the copy, and then the copy's end-to-end test with the real
embedded PostgreSQL and broker: a command, its event on Kafka, raw, staging, the mart
(first build and an incremental fold) and the read API's answer.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from config.settings import REPO_ROOT

SCHEMA = """{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "order.shipped v1",
  "description": "An order left the warehouse with a carrier.",
  "type": "object",
  "additionalProperties": false,
  "required": ["order_id", "carrier"],
  "properties": {
    "order_id": {"type": "string", "format": "uuid", "description": "The order shipped."},
    "carrier": {"type": "string", "minLength": 1, "maxLength": 100,
                "pattern": "^[^\\\\u0000]*$", "description": "Who carries it."}
  }
}
"""
ENTRY = '    EventType("order.shipped", (1,), "orders", "order_id", ORDERS),\n'
DOMAIN = """

@dataclass(frozen=True)
class ShipOrder:
    order_id: UUID
    user_id: str
    carrier: str


@dataclass(frozen=True)
class OrderShipped(DomainEvent, event_type="order.shipped", schema_version=1):
    order_id: UUID
    carrier: str

    @property
    def aggregate_id(self) -> str:
        return str(self.order_id)


def ship_order(order: Order | None, cmd: ShipOrder) -> tuple[Order, OrderShipped]:
    if order is None or order.user_id != cmd.user_id:
        raise NotFound("order not found", order_id=str(cmd.order_id))
    if order.status == "cancelled":
        raise Conflict("a cancelled order is not shipped", order_id=str(cmd.order_id))
    shipped = replace(order, version=order.version + 1)
    event = OrderShipped(
        aggregate_version=shipped.version, order_id=order.order_id, carrier=cmd.carrier
    )
    return shipped, event
"""
HANDLER = """

def ship_order(
    uow: OrdersUnitOfWork, cmd: domain.ShipOrder, meta: EventMeta, idem: Idempotency
) -> Response:
    def action() -> Response:
        order, event = domain.ship_order(uow.orders.get(cmd.order_id), cmd)
        recorded = envelope(event, meta)
        uow.orders.save(order, at=recorded["occurred_at"])
        uow.outbox.add(recorded)
        return 200, _view(order, recorded)

    return run_once(uow, user_id=cmd.user_id, request=idem, action=action)
"""
ROUTE = """

class ShipOrderIn(BaseModel):
    carrier: Annotated[str, contract_field("order.shipped", "carrier"), STORABLE]


@router.post(
    "/orders/{order_id}/ship",
    response_model=OrderOut,
    responses=documented(*WITH_BODY, 403, 404, 409, s404="No such order of the caller's"),
)
def ship_order(
    order_id: uuid.UUID,
    body: ShipOrderIn,
    user: Customer,
    uow: UnitOfWork,
    meta: Meta,
    idem: IdempotentRequest,
    seal: PositionSeal,
) -> JSONResponse:
    cmd = domain.ShipOrder(order_id, user.subject, body.carrier)
    status, out = handlers.ship_order(uow, cmd, meta, idem)
    return JSONResponse(seal.answer(out), status_code=status)
"""
MIGRATION = '''"""order.shipped: its raw table, and the index the orders mart reads it by."""

from __future__ import annotations

from alembic import op

from config.database_settings import DbRole
from database.migrations.ddl import create_raw_table, index_payload_uuid, owned_by

revision = "{revision}"
down_revision = "{down_revision}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with owned_by(op, DbRole.INGEST):
        create_raw_table(op, "order.shipped")
        index_payload_uuid(op, "order.shipped", "order_id")


def downgrade() -> None:
    raise NotImplementedError("forward only: restore a backup to go back")
'''
MART_SHIPMENTS = """shipments_seen as (
    {{ order_events_to_refresh_from(
        ref('stg_orders__shipped'), 'shipped', 'shipped.order_id, shipped.occurred_at',
        changed, new_orders, folded_up_to, horizon
    ) }}
    {%- if folding %}

    union all

    select known.order_id, known.shipped_at
    from known
    where known.shipped_at is not null
    {%- endif %}
),

shipments as (

    select
        shipments_seen.order_id,
        min(shipments_seen.occurred_at) as shipped_at

    from shipments_seen

    group by shipments_seen.order_id

),

"""
MART_COLUMN = """      - name: shipped_at
        description: When the order was first shipped (`order.shipped`), or null.
        data_type: timestamptz
"""
E2E = '''"""A shipped order, from the command to the read API."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from fastapi.testclient import TestClient

from config.settings import Settings
from database import connections
from database.names import WAREHOUSE_DATABASE
from pipeline.publish import publish_views
from pipeline.steps import ingest_step
from services.read_api.freshness_cache import KEPT_ANSWERS_BOUND_S
from tests.support.dbt_in_process import InProcessDbt
from tests.support.relay import relay_all


def test_a_shipment_reaches_raw_staging_the_mart_and_the_read_api(
    settings: Settings,
    dbt: InProcessDbt,
    orders: TestClient,
    read_api: TestClient,
    auth: Callable[..., dict[str, str]],
) -> None:
    user = f"sam-{uuid.uuid4().hex[:6]}"

    def place() -> str:
        r = orders.post("/orders", json={"customer_name": "Sam"}, headers=auth(user))
        assert r.status_code == 201, r.text
        return str(r.json()["order_id"])

    def ship(order_id: str, carrier: str) -> None:
        r = orders.post(f"/orders/{order_id}/ship", json={"carrier": carrier}, headers=auth(user))
        assert r.status_code == 200, r.text
        assert r.json()["version"] == 2

    def read() -> dict[str, dict[str, object]]:
        r = read_api.get("/orders-with-invoices", params={"userId": user}, headers=auth(user))
        assert r.status_code == 200, r.text
        return {row["orderId"]: row for row in r.json()}

    def through_the_pipeline(build: str, order_id: str) -> dict[str, dict[str, object]]:
        assert relay_all(settings, "orders") >= 1
        ingest_step(settings)
        dbt(build)
        publish_views(settings)
        # An earlier answer may be kept until the publication is announced (a moment).
        deadline = time.monotonic() + KEPT_ANSWERS_BOUND_S + 2
        while read().get(order_id, {}).get("shippedAt") is None:
            if time.monotonic() > deadline:
                break
            time.sleep(0.1)
        return read()

    first, second = place(), place()
    ship(first, "Speedy Parcels")
    r = orders.post(f"/orders/{uuid.uuid4()}/ship", json={"carrier": "x"}, headers=auth(user))
    assert r.status_code == 404
    # The first build makes the mart from all events, with every unit and data test.
    answer = through_the_pipeline("build", first)
    assert answer[first]["shippedAt"] is not None
    assert answer[second]["shippedAt"] is None

    with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
        raw = conn.execute(
            "select payload ->> 'carrier', aggregate_version from raw.order_shipped"
            " where payload ->> 'order_id' = %s",
            (first,),
        ).fetchall()
        staged = conn.execute(
            "select carrier from staging.stg_orders__shipped where order_id = %s", (first,)
        ).fetchall()
    assert raw == [("Speedy Parcels", 2)]
    assert staged == [("Speedy Parcels",)]

    ship(second, "Slow Boats")
    answer = through_the_pipeline("run", second)  # incremental: a fold into the held row
    assert answer[second]["shippedAt"] is not None
    assert answer[first]["shippedAt"] is not None
    assert answer[second]["updatedAt"] == answer[second]["shippedAt"]
    documented = read_api.get("/openapi.json").json()["components"]["schemas"]
    assert "shippedAt" in documented["OrderWithInvoice"]["properties"]
'''


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


def python(repo: Path, *args: str, timeout: float = 600) -> str:
    done = subprocess.run(
        [sys.executable, *args], cwd=repo, capture_output=True, text=True, check=False,
        timeout=timeout,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    return done.stdout


def edit(path: Path, old: str, new: str, count: int = 1) -> None:
    """Replace ``old`` (which must occur ``count`` times) in a file of the copy."""
    text = path.read_text()
    assert text.count(old) == count, (path, old)
    path.write_text(text.replace(old, new))


def warehouse_head(migrations: Path) -> str:
    """The newest revision of the warehouse migrations: the one no other revision follows."""
    revisions: set[str] = set()
    downs: set[str] = set()
    for path in migrations.glob("v*.py"):
        text = path.read_text()
        revisions |= set(re.findall(r'^revision = "([^"]+)"', text, re.M))
        downs |= set(re.findall(r'^down_revision = "([^"]+)"', text, re.M))
    [head] = revisions - downs
    return head


def write_by_hand(repo: Path) -> set[str]:
    """What a person writes for `order.shipped` (docs/extending.md); the paths written."""
    (repo / "contracts/events/order.shipped.v1.schema.json").write_text(SCHEMA)
    edit(
        repo / "contracts/catalog.py",
        '    EventType("stock.updated"',
        ENTRY + '    EventType("stock.updated"',
    )
    for name, text in {"domain": DOMAIN, "handlers": HANDLER, "api": ROUTE}.items():
        path = repo / "services" / "orders" / f"{name}.py"
        path.write_text(path.read_text() + text)
    migrations = repo / "database/migrations/warehouse"
    head = warehouse_head(migrations)
    revision = f"{int(head) + 1:04d}"
    migration = migrations / f"v{revision}_order_shipped.py"
    migration.write_text(MIGRATION.format(revision=revision, down_revision=head))

    mart = repo / "dbt_project/models/marts/orders_with_invoices.sql"
    edit(mart, "invoices_seen as (\n", MART_SHIPMENTS + "invoices_seen as (\n")
    edit(
        mart,
        "        cancellations.cancelled_at,\n",
        "        cancellations.cancelled_at,\n        shipments.shipped_at,\n",
    )
    edit(mart, "orders.held_updated_at\n", "shipments.shipped_at, orders.held_updated_at\n")
    join = "    left join cancellations\n        on orders.order_id = cancellations.order_id\n"
    edit(
        mart,
        join,
        join + "\n    left join shipments\n        on orders.order_id = shipments.order_id\n",
    )
    mart_yml = mart.with_suffix(".yml")
    edit(mart_yml, "updated_at]", "updated_at, shipped_at]")  # the read API shows it
    edit(mart_yml, "      - name: updated_at\n", MART_COLUMN + "      - name: updated_at\n")
    # The unit tests: the mart's rows now hold shipped_at, and the new input is given.
    edit(
        mart_yml,
        "              changed_at_watermark::bigint",
        "              null::timestamptz as shipped_at, changed_at_watermark::bigint",
        2,
    )
    edit(
        mart_yml,
        "50::bigint as changed_at_watermark",
        "null::timestamptz as shipped_at, 50::bigint as changed_at_watermark",
    )
    given = "    given:\n"
    no_shipments = given + "      - input: ref('stg_orders__shipped')\n        rows: []\n"
    edit(mart_yml, given, no_shipments, 4)
    changed = repo / "dbt_project/models/intermediate/int_orders_with_invoices__changed_orders.yml"
    edit(changed, given, no_shipments, 2)

    views = repo / "docs/views.md"
    row = "| `cancelled_at` | timestamptz | first cancellation, or null |\n"
    edit(views, row, row + "| `shipped_at` | timestamptz | first shipment, or null |\n")
    (repo / "tests/integration/test_order_shipped.py").write_text(E2E)
    return {str(p.relative_to(repo)) for p in (
        repo / "contracts/events/order.shipped.v1.schema.json", repo / "contracts/catalog.py",
        repo / "services/orders/domain.py", repo / "services/orders/handlers.py",
        repo / "services/orders/api.py", migration, mart, mart_yml, changed, views,
        repo / "tests/integration/test_order_shipped.py",
    )}  # fmt: skip


def test_a_new_event_type_is_a_few_files_and_the_rest_is_derived(tmp_path: Path) -> None:
    repo = copy_of_repository(tmp_path / "repo")
    by_hand = write_by_hand(repo)

    python(repo, "-m", "contracts.generate")

    changed = {line[3:] for line in git(repo, "status", "--porcelain", "-uall").splitlines()}
    assert by_hand <= changed
    generated = changed - by_hand
    assert generated == {
        "contracts/envelope.schema.json",
        "contracts/published/envelope.schema.json",
        "contracts/published/order.shipped.v1.schema.json",
        "dbt_project/macros/staged_events.sql",
        "dbt_project/models/staging/_contracts__docs.md",
        "dbt_project/models/staging/_staging__sources.yml",
        "dbt_project/models/staging/stg_orders__shipped.sql",
        "dbt_project/models/staging/stg_orders__shipped.yml",
        "deploy/kafka/init.sh",
        "docs/events.md",
        "services/read_api/view_models.py",
    }
    print(f"files written by hand: {len(by_hand)}, generated: {len(generated)}")
    assert len(by_hand) <= 12
    assert "--topic order.shipped" in (repo / "deploy" / "kafka" / "init.sh").read_text()
    assert "shipped_at: datetime | None" in (repo / "services/read_api/view_models.py").read_text()

    # The registry's own checks pass in the copy: current files, compatibility, producers.
    python(
        repo, "-m", "pytest", "-q", "-p", "no:cacheprovider",
        "tests/unit/test_catalogue.py", "tests/unit/test_compatibility.py",
        "tests/unit/test_contract_docs.py", "tests/unit/test_view_models.py",
    )  # fmt: skip
    # End to end in the copy, on its own embedded PostgreSQL and broker.
    python(
        repo, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
        "tests/integration/test_order_shipped.py", timeout=1500,
    )  # fmt: skip
