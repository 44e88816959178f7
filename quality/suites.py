"""What each warehouse table must satisfy before the views built on it are published.

Suites are built in code (one source of truth, typed, unit-tested) and written into the
Great Expectations file context each time the gate runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from great_expectations import expectations as gxe

from contracts.catalog import TOPICS, raw_table
from database.warehouse import MARTS, Mart

# Envelope columns of every raw table (contracts/envelope.schema.json); request_id may be null.
ENVELOPE_COLUMNS = (
    "event_id",
    "event_type",
    "schema_version",
    "aggregate_id",
    "aggregate_version",
    "occurred_at",
    "producer",
    "request_id",
    "trace",
    "payload",
)
NULLABLE_ENVELOPE_COLUMNS = frozenset({"request_id"})

# Producers' clocks may run a little ahead of the warehouse's; more than this is a bad event.
CLOCK_SKEW = "5 minutes"

URL_PATTERN = r"^https?://[^\s/?#]+[^\s]*$"

# Columns of the stock marts (their enforced dbt contracts); a suite for a mart that does not exist
# yet is skipped by the gate, but once the table exists a missing column fails it.
STOCK_COLUMN = "stock"


@dataclass(frozen=True)
class TableSuite:
    """The expectations on one table, and where the table lives."""

    schema: str
    table: str
    expectations: tuple[gxe.Expectation, ...]

    @property
    def name(self) -> str:
        return f"{self.schema}.{self.table}"


def raw_suite(topic: str) -> TableSuite:
    """Envelope complete, event_id unique, the right event type, occurred_at not in the future."""
    checks: list[gxe.Expectation] = [
        gxe.ExpectTableColumnsToMatchSet(column_set=list(ENVELOPE_COLUMNS), exact_match=False),
        gxe.ExpectColumnValuesToBeUnique(column="event_id"),
        *(
            gxe.ExpectColumnValuesToNotBeNull(column=column)
            for column in ENVELOPE_COLUMNS
            if column not in NULLABLE_ENVELOPE_COLUMNS
        ),
        gxe.ExpectColumnValuesToBeInSet(column="event_type", value_set=[topic]),
        gxe.UnexpectedRowsExpectation(
            description=f"occurred_at is not in the future (more than {CLOCK_SKEW} ahead)",
            unexpected_rows_query=(
                "select event_id, occurred_at from {batch}"  # noqa: S608  # {batch} is GX's
                f" where occurred_at > now() + interval '{CLOCK_SKEW}'"
            ),
        ),
    ]
    return TableSuite("raw", raw_table(topic), tuple(checks))


def orders_with_invoices_suite() -> TableSuite:
    """One row per order (and every ingested order has its row); invoice_url is a URL."""
    return TableSuite(
        "marts",
        "orders_with_invoices",
        (
            gxe.ExpectColumnValuesToNotBeNull(column="order_id"),
            gxe.ExpectColumnValuesToBeUnique(column="order_id"),
            gxe.UnexpectedRowsExpectation(
                description="every order in raw.order_created has its row",
                unexpected_rows_query=(
                    "select distinct (created.payload ->> 'order_id')::uuid as order_id"
                    " from raw.order_created as created"
                    # {batch} expands to "(select ...) AS subselect": no alias of our own.
                    " where not exists (select 1 from {batch}"
                    " where order_id = (created.payload ->> 'order_id')::uuid)"
                ),
            ),
            gxe.ExpectColumnValuesToMatchRegex(column="invoice_url", regex=URL_PATTERN),
        ),
    )


def products_suite() -> TableSuite:
    """One row per product; stock never below zero."""
    return TableSuite(
        "marts",
        "products",
        (
            gxe.ExpectColumnValuesToNotBeNull(column="product_id"),
            gxe.ExpectColumnValuesToBeUnique(column="product_id"),
            gxe.ExpectColumnValuesToNotBeNull(column=STOCK_COLUMN),
            gxe.ExpectColumnValuesToBeBetween(column=STOCK_COLUMN, min_value=0),
        ),
    )


def product_stock_daily_suite() -> TableSuite:
    """One row per product and day; stock as of each day never below zero."""
    return TableSuite(
        "marts",
        "product_stock_daily",
        (
            gxe.ExpectColumnValuesToNotBeNull(column="product_id"),
            gxe.ExpectColumnValuesToNotBeNull(column="day"),
            gxe.ExpectCompoundColumnsToBeUnique(column_list=["product_id", "day"]),
            gxe.ExpectColumnValuesToBeBetween(column=STOCK_COLUMN, min_value=0),
        ),
    )


def raw_suites() -> list[TableSuite]:
    return [raw_suite(topic) for topic in TOPICS]


MART_SUITES: dict[str, Callable[[], TableSuite]] = {
    "orders_with_invoices": orders_with_invoices_suite,
    "products": products_suite,
    "product_stock_daily": product_stock_daily_suite,
}


def key_suite(mart: Mart) -> TableSuite:
    """What every mart must hold: its key (database/warehouse.py) not null and unique."""
    checks: list[gxe.Expectation] = [
        gxe.ExpectColumnValuesToNotBeNull(column=column) for column in mart.key
    ]
    if len(mart.key) == 1:
        checks.append(gxe.ExpectColumnValuesToBeUnique(column=mart.key[0]))
    else:
        checks.append(gxe.ExpectCompoundColumnsToBeUnique(column_list=list(mart.key)))
    return TableSuite("marts", mart.name, tuple(checks))


def mart_suites() -> list[TableSuite]:
    """A suite for every mart the warehouse declares: its own, else the one its key implies."""
    return [
        MART_SUITES[mart.name]() if mart.name in MART_SUITES else key_suite(mart) for mart in MARTS
    ]


# The gate in two parts, each a checkpoint of its own: the raw tables do not change while dbt
# builds the marts, so the pipeline checks them meanwhile (pipeline/tasks/gate_and_publish.py).
GATE_PARTS: dict[str, Callable[[], list[TableSuite]]] = {"raw": raw_suites, "marts": mart_suites}


def warehouse_suites() -> list[TableSuite]:
    """Every suite the pipeline's gate runs: the raw tables, then the marts."""
    return [suite for part in GATE_PARTS.values() for suite in part()]
