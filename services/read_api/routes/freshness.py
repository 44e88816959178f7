"""How fresh each published view is."""

from __future__ import annotations

from fastapi import APIRouter, Request

from services.auth import Caller
from services.read_api import freshness
from services.read_api.paging import NOT_PUBLISHED
from services.read_api.reading import reading
from services.responses import AUTHENTICATED, documented

router = APIRouter(tags=["freshness"])


@router.get(
    "/freshness",
    response_model=list[freshness.ViewFreshness],
    response_model_by_alias=True,
    responses=documented(*AUTHENTICATED, 503, s503=NOT_PUBLISHED),
)
async def view_freshness(request: Request, user: Caller) -> list[freshness.ViewFreshness]:
    """Each published view: when it was published and how far behind its events it is."""
    return await reading(request, freshness.latest)
