"""Domain errors know no HTTP; one map gives each class its status."""

from __future__ import annotations

import pytest

from services.errors import Conflict, DomainError, Forbidden, NotFound, http_status
from services.idempotency import KeyReused
from services.read_api.serving import NotPublished
from services.stock.domain import InsufficientStock
from services.stock.handlers import TooMuchContention


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (DomainError("refused"), 400),
        (NotFound("order not found"), 404),
        (Forbidden("no"), 403),
        (Conflict("order is already cancelled"), 409),
        (InsufficientStock("not enough stock", stock=3), 409),
        (KeyReused("Idempotency-Key was already used for a different request"), 422),
        (TooMuchContention("too many concurrent changes to this product; retry"), 503),
        (NotPublished("no views published yet"), 503),
    ],
)
def test_each_error_class_maps_to_one_status(error: DomainError, status: int) -> None:
    assert http_status(error) == status
    assert not hasattr(error, "status_code")
