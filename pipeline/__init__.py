"""The steps the DAGs run (ingest, build, gate, publish, freshness, rebuild), their Airflow
tasks, and the registry of topics, raw tables, marts and assets."""
