"""The databases on the server: one per write service, and the warehouse."""

from __future__ import annotations

SERVICE_DATABASES: tuple[str, ...] = ("orders", "invoices", "stock")
WAREHOUSE_DATABASE = "warehouse"
