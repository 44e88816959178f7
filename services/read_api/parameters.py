"""A read route's parameters as one pydantic model: validated by the validator pydantic built
for it at import, and documented in OpenAPI from the same model.

FastAPI solves every declared parameter and dependency anew per request, inspecting each
annotation every time: that was about half of a first read's CPU. A read route takes the
``Request`` alone, parses its inputs with ``Parameters.errors_or_values`` and declares
``openapi_extra=...openapi`` (FastAPI's documented way to describe parameters a route reads
itself), so the OpenAPI lists exactly what the model checks. Errors are located as FastAPI
locates them (``["query", "userId"]``) and answered by the same ``RequestValidationError``
handler, so every 422 reads as before.

A field is a query parameter unless its ``Annotated`` metadata says ``IN_PATH`` or
``IN_HEADER``; its name on the wire is its alias.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Generic, TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo


class Source(StrEnum):
    """Where a parameter is read from (OpenAPI's ``in``)."""

    PATH = "path"
    QUERY = "query"
    HEADER = "header"


IN_PATH, IN_HEADER = Source.PATH, Source.HEADER
M = TypeVar("M", bound=BaseModel)
Errors = list[dict[str, Any]]


def _source(field: FieldInfo) -> Source:
    return next((m for m in field.metadata if isinstance(m, Source)), Source.QUERY)


class Parameters(Generic[M]):
    """Reads ``model``'s fields from a request and validates them in one call."""

    def __init__(self, model: type[M]):
        self.model = model
        self._fields = [
            (field.alias or name, _source(field)) for name, field in model.model_fields.items()
        ]
        self._sources = dict(self._fields)
        self.openapi_parameters = _documented(model, self._fields)

    def errors_or_values(self, request: Request) -> tuple[Errors, M | None]:
        """The validated parameters, or the errors FastAPI would have answered 422 with."""
        given: dict[str, str] = {}
        for alias, source in self._fields:
            if source is Source.QUERY:
                value = request.query_params.get(alias)
            elif source is Source.HEADER:
                value = request.headers.get(alias)
            else:
                value = request.path_params.get(alias)
            if value is not None:
                given[alias] = value
        try:
            return [], self.model.model_validate(given)
        except ValidationError as exc:
            return self._located(exc), None

    def _located(self, exc: ValidationError) -> Errors:
        """Pydantic's errors, each prefixed with where its parameter is read from."""
        errors = []
        for error in exc.errors(include_url=False):
            loc = error["loc"]
            where = self._sources.get(str(loc[0]), Source.QUERY) if loc else Source.QUERY
            errors.append({**error, "loc": (where.value, *loc)})
        return errors


def _documented(model: type[BaseModel], fields: list[tuple[str, Source]]) -> list[dict[str, Any]]:
    """OpenAPI parameter objects as FastAPI writes them for declared parameters: path, query,
    then header; no ``default: null``; the description beside the schema too."""
    schema = model.model_json_schema(by_alias=True)
    if "$defs" in schema:
        raise TypeError(f"{model.__name__}: a parameter must not refer to another schema")
    parameters = []
    for source in Source:
        for alias, where in fields:
            if where is not source:
                continue
            field_schema = dict(schema["properties"][alias])
            if field_schema.get("default", 0) is None:
                del field_schema["default"]
            parameter: dict[str, Any] = {
                "name": alias,
                "in": source.value,
                "required": alias in schema.get("required", ()),
                "schema": field_schema,
            }
            if "description" in field_schema:
                parameter["description"] = field_schema["description"]
            parameters.append(parameter)
    return parameters
