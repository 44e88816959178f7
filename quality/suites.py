"""What each warehouse table must satisfy before the views built on it are published.

Suites are built in code (one source of truth, typed, unit-tested) and written into the
Great Expectations file context each time the gate runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from great_expectations import expectations as gxe

from contracts.catalog import TOPICS, raw_table
from contracts.dbt_sources import ENVELOPE_COLUMNS
from database.warehouse import MARTS, Mart
from quality.windows import window_condition

# request_id may be null; every other envelope column is required.
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
    # SQL condition on the rows to check (quality/windows.py); None: the whole table.
    window: str | None = None

    @property
    def qualified_table(self) -> str:
        return f"{self.schema}.{self.table}"

    @property
    def name(self) -> str:
        return self.qualified_table + (".new_rows" if self.window else "")

    @property
    def query(self) -> str | None:
        """The batch's query when a window is set (the names are the suites' own)."""
        if self.window is None:
            return None
        return f"select * from {self.qualified_table} where {self.window}"  # noqa: S608


def raw_suite(topic: str, window: str | None = None) -> TableSuite:
    """Envelope complete, event_id unique, the right event type, occurred_at not in the future.

    With ``window``, on those rows only (event_id is unique across the table by its key)."""
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
    return TableSuite("raw", raw_table(topic), tuple(checks), window)


def orders_with_invoices_suite(window: str | None = None) -> TableSuite:
    """One row per order; invoice_url is a URL; on the whole table (the audit) also: every
    ingested order has its row, which reads all of raw.order_created."""
    every_order_has_its_row = (
        ()
        if window
        else (
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
        )
    )
    return TableSuite(
        "marts",
        "orders_with_invoices",
        (
            gxe.ExpectColumnValuesToNotBeNull(column="order_id"),
            gxe.ExpectColumnValuesToBeUnique(column="order_id"),
            *every_order_has_its_row,
            gxe.ExpectColumnValuesToMatchRegex(column="invoice_url", regex=URL_PATTERN),
        ),
        window,
    )


def products_suite(window: str | None = None) -> TableSuite:
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
        window,
    )


def product_stock_daily_suite(window: str | None = None) -> TableSuite:
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
        window,
    )


def raw_suites(new_rows_from: int | None = None) -> list[TableSuite]:
    """The raw tables' suites on whole tables, or on the rows at or above ``new_rows_from``
    (where the last passing gate got to)."""
    window = None if new_rows_from is None else window_condition("raw", new_rows_from)
    return [raw_suite(topic, window) for topic in TOPICS]


MART_SUITES: dict[str, Callable[[str | None], TableSuite]] = {
    "orders_with_invoices": orders_with_invoices_suite,
    "products": products_suite,
    "product_stock_daily": product_stock_daily_suite,
}


def key_suite(mart: Mart, window: str | None = None) -> TableSuite:
    """What every mart must hold: its key (database/warehouse.py) not null and unique."""
    checks: list[gxe.Expectation] = [
        gxe.ExpectColumnValuesToNotBeNull(column=column) for column in mart.key
    ]
    if len(mart.key) == 1:
        checks.append(gxe.ExpectColumnValuesToBeUnique(column=mart.key[0]))
    else:
        checks.append(gxe.ExpectCompoundColumnsToBeUnique(column_list=list(mart.key)))
    return TableSuite("marts", mart.name, tuple(checks), window)


def mart_suites(new_rows_from: int | None = None) -> list[TableSuite]:
    """A suite for every mart the warehouse declares: its own, else the one its key implies;
    on whole tables, or on the rows changed at or above ``new_rows_from`` (where the last
    passing gate got to)."""
    window = None if new_rows_from is None else window_condition("marts", new_rows_from)
    return [
        MART_SUITES[mart.name](window) if mart.name in MART_SUITES else key_suite(mart, window)
        for mart in MARTS
    ]


# The gate in two parts, each a checkpoint of its own: the raw tables do not change while dbt
# builds the marts, so the pipeline checks them meanwhile (pipeline/tasks/gate_and_publish.py).
# They check the rows new since their last pass, from the bound it left (quality/windows.py);
# the daily audit checks every row (AUDIT_PARTS, docs/adr/check-windows.md).
GATE_PARTS: dict[str, Callable[[int], list[TableSuite]]] = {
    "raw": lambda checked_below: raw_suites(new_rows_from=checked_below),
    "marts": lambda checked_below: mart_suites(new_rows_from=checked_below),
}
AUDIT_PARTS: dict[str, Callable[[], list[TableSuite]]] = {"raw": raw_suites, "marts": mart_suites}


def warehouse_suites(checked_below: int = 0) -> list[TableSuite]:
    """Every suite the pipeline's gate runs: the raw tables' and the marts' rows at or above
    ``checked_below`` (each part has a bound of its own in the pipeline)."""
    return [suite for part in GATE_PARTS.values() for suite in part(checked_below)]
