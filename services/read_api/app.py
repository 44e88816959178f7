"""Read API deployable: ``uvicorn services.read_api.app:create_app --factory``."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.middleware import Middleware

from config.settings import Settings, settings_or_exit
from database.names import WAREHOUSE_DATABASE
from services.app import create_service_app
from services.read_api import order_queries
from services.read_api.answer_cache import AnswerCache
from services.read_api.answer_middleware import KeptAnswers
from services.read_api.cursors import Cursors
from services.read_api.freshness_cache import FreshnessCache
from services.read_api.publication_listener import PublicationListener
from services.read_api.read_batches import ReadBatches
from services.read_api.reading import read_pool
from services.read_api.routes import freshness, orders, products


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or settings_or_exit()
    freshness_cache = FreshnessCache()
    answer_cache = AnswerCache(max_bytes=settings.read_cache_mb * 1_048_576)
    listener = PublicationListener(settings, freshness_cache)
    app = create_service_app(
        name="read_api",
        settings=settings,
        dbname=WAREHOUSE_DATABASE,
        routers=[orders.router, products.router, freshness.router],
        write_side=False,
        inner_middleware=[Middleware(KeptAnswers, answers=answer_cache, freshness=freshness_cache)],
        background=[listener.run_forever],
        resources=[read_pool(settings)],
    )
    app.state.cursors = Cursors(settings.read_token_secret)
    app.state.order_pages = ReadBatches(order_queries.pages_of_many)
    app.state.freshness_cache = freshness_cache
    app.state.answer_cache = answer_cache
    app.state.readiness_notes = lambda: {"kept_answers": listener.check()}
    return app
