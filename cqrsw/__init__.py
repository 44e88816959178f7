"""Operator commands of cqrs-warehouse (the ``cqrsw`` console script)."""
