"""The databases on the server: one per write service, the warehouse and Airflow's."""

from __future__ import annotations

SERVICE_DATABASES: tuple[str, ...] = ("orders", "invoices", "stock")
WAREHOUSE_DATABASE = "warehouse"
AIRFLOW_DATABASE = "airflow"  # Airflow's metadata
