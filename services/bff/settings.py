"""Settings of the BFF: the shared ones plus where the two write services it asks are."""

from __future__ import annotations

from typing import Any

from pydantic import Field, ValidationError

from config.settings import ConfigurationError, Settings, describe_errors


class BffSettings(Settings):
    bff_port: int = Field(default=8004, ge=1, le=65535, description="The BFF (comparison only).")
    bff_orders_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s/]+/?$",
        description="Base URL of the orders service; http://127.0.0.1:<orders_port> if unset.",
    )
    bff_invoices_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s/]+/?$",
        description="Base URL of the invoices service; http://127.0.0.1:<invoices_port> if unset.",
    )

    @property
    def orders_url(self) -> str:
        return (self.bff_orders_url or f"http://127.0.0.1:{self.orders_port}").rstrip("/")

    @property
    def invoices_url(self) -> str:
        return (self.bff_invoices_url or f"http://127.0.0.1:{self.invoices_port}").rstrip("/")


def load_bff_settings(**overrides: Any) -> BffSettings:
    try:
        return BffSettings(**overrides)
    except ValidationError as exc:
        raise ConfigurationError(describe_errors(exc)) from None


def bff_settings_or_exit() -> BffSettings:
    """For the uvicorn entry point: one line on stderr and exit status 2 on bad settings."""
    try:
        return load_bff_settings()
    except ConfigurationError as exc:
        import sys

        print(exc, file=sys.stderr)
        raise SystemExit(2) from None
