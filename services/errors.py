"""Domain errors every service raises, and the one map from error class to HTTP status.

The errors say what went wrong in the domain's terms; only ``http_status`` knows HTTP.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A command was refused by the domain."""

    def __init__(self, message: str, **details: Any):
        super().__init__(message)
        self.message = message
        self.details = details


class NotFound(DomainError):
    """The aggregate the command is about does not exist (or is not the caller's)."""


class Forbidden(DomainError):
    """The caller may not issue this command."""


class Conflict(DomainError):
    """The command contradicts the aggregate's current state."""


class InvalidCommand(DomainError):
    """The command cannot be carried out as it was sent."""


class Unavailable(DomainError):
    """The command could not run now; sending it again later may succeed."""


_HTTP_STATUS: dict[type[DomainError], int] = {
    DomainError: 400,
    NotFound: 404,
    Forbidden: 403,
    Conflict: 409,
    InvalidCommand: 422,
    Unavailable: 503,
}


def http_status(error: DomainError) -> int:
    """The status of the nearest mapped class of ``error``."""
    for cls in type(error).__mro__:
        if cls in _HTTP_STATUS:
            return _HTTP_STATUS[cls]
    return 400
