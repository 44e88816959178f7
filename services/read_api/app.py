"""Read API deployable: ``uvicorn services.read_api.app:create_app --factory``."""

from __future__ import annotations

from fastapi import FastAPI

from config.settings import Settings, settings_or_exit
from database.names import WAREHOUSE_DATABASE
from services.app import create_service_app
from services.read_api.api import orders, products, views
from services.read_api.freshness_cache import FreshnessCache


def create_app(settings: Settings | None = None) -> FastAPI:
    app = create_service_app(
        name="read_api",
        settings=settings or settings_or_exit(),
        dbname=WAREHOUSE_DATABASE,
        routers=[orders, products, views],
        write_side=False,
    )
    app.state.freshness = FreshnessCache()
    return app
