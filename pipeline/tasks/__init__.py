"""Airflow task builders: the DAG files wire these, the work lives in ``pipeline.steps``."""
