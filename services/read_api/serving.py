"""What every read shares: the JSON shape of answers and the 'nothing published yet' error."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from psycopg import errors
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from services.errors import Unavailable


class NotPublished(Unavailable):
    """No view has been published to the serving schema yet."""


class CamelModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


@contextmanager
def published() -> Iterator[None]:
    """Turns a query on a serving table that does not exist yet into ``NotPublished``."""
    try:
        yield
    except errors.UndefinedTable:
        raise NotPublished("no views published yet: the pipeline has not run") from None
