"""Domain errors every service raises; the HTTP layer maps them to status codes once."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A command was refused by the domain."""

    status_code = 400

    def __init__(self, message: str, **details: Any):
        super().__init__(message)
        self.message = message
        self.details = details


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    status_code = 409


class Forbidden(DomainError):
    status_code = 403
