"""Orders deployable: ``uvicorn services.orders.app:create_app --factory``."""

from __future__ import annotations

from fastapi import FastAPI

from config.settings import Settings, settings_or_exit
from services.app import create_service_app
from services.order_owners import OrderOwners
from services.orders import bff_queries
from services.orders.api import router


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or settings_or_exit()
    # The BFF's reads (not in /docs) only where a BFF runs: elsewhere they are no way in.
    bff = [bff_queries.router] if settings.bff_reads else []
    app = create_service_app(
        name="orders",
        settings=settings,
        dbname="orders",
        routers=[router, *bff],
    )
    app.state.order_owners = OrderOwners(settings.read_token_secret)
    return app
