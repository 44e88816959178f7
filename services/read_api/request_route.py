"""A route whose endpoint takes the ``Request`` alone is called with it, nothing solved first.

The read routes parse their own inputs (services/read_api/parameters.py) and return a
finished ``Response``. For them FastAPI's per-request handler still looks for a body, solves
the (empty) dependencies and builds an error context on every request, about a tenth of a
first read's CPU. This route class, given to the read routers as ``route_class`` (FastAPI's
documented way to customize how a route handles requests), calls such an endpoint directly.
Everything else stays FastAPI's: the OpenAPI comes from the same route, and the exceptions
the endpoint raises reach the app's handlers as before. A route whose endpoint takes
anything more, or that has dependencies, keeps FastAPI's own handler.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine
from typing import Any, get_type_hints

from fastapi import Request, Response
from fastapi.routing import APIRoute

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class RequestRoute(APIRoute):
    def get_route_handler(self) -> Handler:
        endpoint = self.endpoint
        if not self.dependencies and takes_request_only(endpoint):
            return endpoint
        return super().get_route_handler()


def takes_request_only(endpoint: Callable[..., Any]) -> bool:
    """An ``async def`` taking one parameter, a ``Request``, and returning a ``Response``."""
    if not inspect.iscoroutinefunction(endpoint):
        return False
    parameters = list(inspect.signature(endpoint).parameters.values())
    hints = get_type_hints(endpoint)
    return (
        len(parameters) == 1
        and parameters[0].kind
        in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        and hints.get(parameters[0].name) is Request
        and isinstance(hints.get("return"), type)
        and issubclass(hints["return"], Response)
    )
