"""The ceiling of bench/read_latency.py: a bare FastAPI endpoint returning a constant.

``uvicorn bench.ceiling_app:create_app --factory``, served like the read API: what one
uvicorn process answers when a request does no work at all.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

CONSTANT: list[dict[str, Any]] = [{"orderId": "00000000-0000-0000-0000-000000000000"}]


def create_app() -> FastAPI:
    app = FastAPI(title="ceiling")

    @app.get("/constant")
    async def constant() -> list[dict[str, Any]]:
        return CONSTANT

    return app
