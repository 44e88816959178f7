"""What every read shares: the JSON shape of answers and the 'nothing published yet' error.

Rows are read as dicts keyed by their JSON names (the SQL aliases each column, from the
response model's fields) and serialized once, by orjson, straight into the answer: the
response models describe the answers in OpenAPI, they are not built per row.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import orjson
import psycopg
from fastapi import Response
from psycopg import errors, sql
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


Row = dict[str, Any]


def columns(model: type[CamelModel], **computed: sql.Composable) -> sql.Composed:
    """The select list of ``model``'s fields, each aliased to its JSON name; ``computed``
    gives the expression of a field that is no column."""
    return sql.SQL(", ").join(
        sql.SQL("{} as {}").format(
            computed.get(name, sql.Identifier(name)), sql.Identifier(field.alias or name)
        )
        for name, field in model.model_fields.items()
        if not field.exclude
    )


def names(model: type[CamelModel]) -> tuple[str, ...]:
    """The JSON names ``columns(model)`` selects, in its order."""
    return tuple(
        field.alias or name for name, field in model.model_fields.items() if not field.exclude
    )


async def fetch(
    conn: psycopg.AsyncConnection, query: bytes, params: Mapping[str, Any], keys: Sequence[str]
) -> list[Row]:
    """The rows of a query on a serving table as dicts keyed by ``keys`` (its select list's
    names, known in advance: ``dict_row`` would read them from each result's description)."""
    with published():
        cur = await conn.execute(query, params)
        return [dict(zip(keys, row, strict=True)) for row in await cur.fetchall()]


def answer(body: object, headers: Mapping[str, str]) -> Response:
    """A 200 JSON answer, serialized as the response models would (UTC as ``Z``)."""
    return Response(
        orjson.dumps(body, option=orjson.OPT_UTC_Z),
        media_type="application/json",
        headers=headers,
    )
