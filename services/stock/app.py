"""Stock deployable: ``uvicorn services.stock.app:create_app --factory``."""

from __future__ import annotations

from fastapi import FastAPI

from config.settings import Settings, settings_or_exit
from services.app import create_service_app
from services.stock.api import router


def create_app(settings: Settings | None = None) -> FastAPI:
    return create_service_app(
        name="stock",
        settings=settings or settings_or_exit(),
        dbname="stock",
        routers=[router],
    )
