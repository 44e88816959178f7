"""Kafka -> raw warehouse tables, exactly once in effect."""
