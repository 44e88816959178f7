"""The BFF's calls to the write services' BFF-only reads, over one pooled HTTP client."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any, TypeVar

import httpx
from pydantic import TypeAdapter, ValidationError

from services.errors import Unavailable
from services.invoices.bff_queries import MAX_ORDER_IDS, OrderInvoice
from services.order_owners import aggregate, decode, encode
from services.orders.bff_queries import UserOrder

log = logging.getLogger(__name__)
T = TypeVar("T")
_ORDERS = TypeAdapter(list[UserOrder])
_INVOICES = TypeAdapter(list[OrderInvoice])


class Refused(Exception):
    """A write service refused the call for the caller's reasons (401, 403, 422): passed on."""

    def __init__(self, status: int, detail: Any):
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail


class Upstreams:
    """The orders and invoices services, asked with the caller's own bearer token."""

    def __init__(self, client: httpx.AsyncClient, orders_url: str, invoices_url: str):
        self.client = client
        self.orders_url = orders_url
        self.invoices_url = invoices_url

    async def orders(self, authorization: str, user_id: str, limit: int) -> list[UserOrder]:
        params = {"userId": user_id, "limit": str(limit)}
        body = await self._get(
            "orders", f"{self.orders_url}/internal/bff/orders", params, authorization
        )
        return _parse(_ORDERS, body, "orders")

    async def invoices(self, authorization: str, orders: Sequence[UserOrder]) -> list[OrderInvoice]:
        """Every invoice of the orders, asked in chunks the invoices service accepts, at once.

        Each chunk carries the proof that its orders are the caller's: the XOR of the owner
        tags the orders service gave them (services/order_owners.py)."""
        chunks = [orders[i : i + MAX_ORDER_IDS] for i in range(0, len(orders), MAX_ORDER_IDS)]
        bodies = await asyncio.gather(
            *(
                self._get(
                    "invoices",
                    f"{self.invoices_url}/internal/bff/invoices",
                    [
                        *(("orderId", str(order.order_id)) for order in chunk),
                        ("proof", _proof(chunk)),
                    ],
                    authorization,
                )
                for chunk in chunks
            )
        )
        return [invoice for body in bodies for invoice in _parse(_INVOICES, body, "invoices")]

    async def _get(self, service: str, url: str, params: Any, authorization: str) -> bytes:
        try:
            response = await self.client.get(
                url, params=params, headers={"Authorization": authorization}
            )
        except httpx.HTTPError as exc:
            log.warning("bff: the %s service did not answer: %r", service, exc)
            raise Unavailable(f"the {service} service is unavailable; retry later") from None
        if response.status_code in (401, 403, 422):
            raise Refused(response.status_code, _detail(response))
        if response.status_code != 200:
            log.warning("bff: the %s service answered %s", service, response.status_code)
            raise Unavailable(f"the {service} service is unavailable; retry later")
        return response.content


def _proof(orders: Sequence[UserOrder]) -> str:
    tags = [decode(order.owner_tag) for order in orders]
    if None in tags:
        log.warning("bff: the orders service answered an order without its owner tag")
        raise Unavailable("the orders service answered unexpectedly; retry later")
    return encode(aggregate(tag for tag in tags if tag is not None))


def _detail(response: httpx.Response) -> Any:
    try:
        return response.json().get("detail", response.reason_phrase)
    except (ValueError, AttributeError):
        return response.reason_phrase


def _parse(adapter: TypeAdapter[list[T]], body: bytes, service: str) -> list[T]:
    try:
        return adapter.validate_json(body)
    except ValidationError:
        log.warning("bff: the %s service answered a body of another shape", service)
        raise Unavailable(f"the {service} service answered unexpectedly; retry later") from None
