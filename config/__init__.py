"""Configuration of every deployable, read from ``CQRSW_*`` environment variables."""
