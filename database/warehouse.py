"""The warehouse's layout: where raw events land, where dbt builds the marts, what readers see."""

from __future__ import annotations

from dataclasses import dataclass

from contracts.catalog import topics_feeding

RAW_SCHEMA = "raw"
# Raw tables are partitioned by month of ingest; every ingest run makes sure the partitions
# of this month and of this many months after it exist (docs/adr/raw-partitions.md).
RAW_PARTITION_MONTHS_AHEAD = 2
MARTS_SCHEMA = "marts"  # built and tested by dbt; nothing reads them there
SERVING_SCHEMA = "serving"  # what passed every check, published for the read API
# NOTIFY channel of each publication (payload: the view): readers drop what they kept of it.
PUBLICATIONS_CHANNEL = "cqrsw_publications"


@dataclass(frozen=True)
class Mart:
    """A view table dbt builds and the pipeline publishes: its key and the topics it folds."""

    name: str
    key: tuple[str, ...]

    @property
    def topics(self) -> tuple[str, ...]:
        """The topics it folds, as the event catalogue (contracts/catalog.py) declares them."""
        return topics_feeding(self.name)


MARTS: tuple[Mart, ...] = (
    Mart("orders_with_invoices", ("order_id",)),
    Mart("products", ("product_id",)),
    Mart("product_stock_daily", ("product_id", "day")),
)
MARTS_BY_NAME: dict[str, Mart] = {mart.name: mart for mart in MARTS}
