"""Alembic's environment: ``env.py``, the DDL helpers revisions share, one folder per database."""
