"""Read traffic shaped like a front end's: who asks what, drawn once, for bench/read_traffic.py.

Users are asked about with a Zipf popularity (the user at rank ``r`` is asked ``r**-s`` as
often as the first; which user holds which rank is shuffled), and so are products. Each
request is one of ``MIX``'s kinds: a user's first page of orders (the default limit, or a
short page), the next page through a cursor, a filtered list (a status, or a week of
``createdFrom``/``createdTo``), the product list and its next pages, one product's stock,
its daily history and the history's next page. Cursors are sealed with the read API's own
key for the filters of their request and carry the sort key of the previous page's last row
as the seeds lay the rows out (bench/read_seed.py, bench/product_seed.py), so the API
accepts them as its own. Pure: the bench sends the list, the unit tests check it.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from urllib.parse import urlencode

from bench.product_seed import product_id, stock_days
from bench.read_seed import orders, user_of
from services.read_api.cursors import Cursors, filters_digest
from services.read_api.order_queries import OrderFilters

ZIPF_S = 1.0
ORDERS_PAGE = 2  # a seeded user has about five orders: a short page has a next one
PRODUCTS_PAGE = 50
HISTORY_PAGE = 30


class Kind(StrEnum):
    ORDERS = "orders"  # the first page at the default limit: what the BFF answers too
    ORDERS_PAGE = "orders-page"
    ORDERS_NEXT = "orders-next"
    ORDERS_FILTERED = "orders-filtered"
    PRODUCTS = "products"
    PRODUCTS_NEXT = "products-next"
    STOCK = "stock"
    HISTORY = "history"
    HISTORY_NEXT = "history-next"


MIX: dict[Kind, float] = {
    Kind.ORDERS: 0.40,
    Kind.ORDERS_PAGE: 0.10,
    Kind.ORDERS_NEXT: 0.10,
    Kind.ORDERS_FILTERED: 0.12,
    Kind.PRODUCTS: 0.06,
    Kind.PRODUCTS_NEXT: 0.04,
    Kind.STOCK: 0.08,
    Kind.HISTORY: 0.07,
    Kind.HISTORY_NEXT: 0.03,
}
BFF_KINDS = frozenset({Kind.ORDERS, Kind.ORDERS_PAGE})  # userId and limit: all the BFF takes


@dataclass(frozen=True)
class Seeded:
    """What the seeds wrote: ``orders`` orders of ``users`` users, ``products`` products with
    history up to ``last_day``."""

    orders: int
    users: int
    products: int
    last_day: date


@dataclass(frozen=True)
class Request:
    kind: Kind
    path: str  # with its query string
    subject: str  # whose token asks


def zipf(n: int, s: float, rng: random.Random) -> Callable[[int], list[int]]:
    """A sampler of ``k`` ranks in [0, n) with P(rank r) proportional to (r + 1) ** -s."""
    cumulative = list(itertools.accumulate((r + 1) ** -s for r in range(n)))
    population = range(n)
    return lambda k: rng.choices(population, cum_weights=cumulative, k=k)


def traffic(seeded: Seeded, count: int, cursors: Cursors, rng: random.Random,
            s: float = ZIPF_S) -> list[Request]:  # fmt: skip
    """``count`` requests in the order drawn."""
    users = rng.sample(range(seeded.users), seeded.users)  # who holds each rank
    products = rng.sample(range(seeded.products), seeded.products)
    user_ranks = zipf(seeded.users, s, rng)(count)
    product_ranks = zipf(seeded.products, s, rng)(count)
    kinds = rng.choices(list(MIX), weights=list(MIX.values()), k=count)
    draw = _Draw(seeded, cursors, rng)
    return [
        draw.request(kind, users[u], products[p])
        for kind, u, p in zip(kinds, user_ranks, product_ranks, strict=True)
    ]


class _Draw:
    def __init__(self, seeded: Seeded, cursors: Cursors, rng: random.Random):
        self.seeded, self.cursors, self.rng = seeded, cursors, rng

    def request(self, kind: Kind, user: int, product: int) -> Request:
        subject = user_of(user, self.seeded.users)
        if kind in (Kind.ORDERS, Kind.ORDERS_PAGE, Kind.ORDERS_NEXT, Kind.ORDERS_FILTERED):
            query = self.orders_query(kind, user, subject)
            return Request(kind, "/orders-with-invoices?" + urlencode(query), subject)
        if kind in (Kind.PRODUCTS, Kind.PRODUCTS_NEXT):
            return Request(kind, "/products?" + urlencode(self.products_query(kind)), subject)
        pid = product_id(product)
        if kind is Kind.STOCK:
            return Request(kind, f"/products/{pid}/stock", subject)
        query = self.history_query(kind, product)
        suffix = "?" + urlencode(query) if query else ""
        return Request(kind, f"/products/{pid}/stock/history{suffix}", subject)

    def orders_query(self, kind: Kind, user: int, subject: str) -> dict[str, str]:
        if kind is Kind.ORDERS:
            return {"userId": subject}
        if kind is Kind.ORDERS_FILTERED:
            return {"userId": subject, **self.order_filter(user_orders(user, self.seeded))}
        query = {"userId": subject, "limit": str(ORDERS_PAGE)}
        newest_first = user_orders(user, self.seeded) if kind is Kind.ORDERS_NEXT else []
        if len(newest_first) > ORDERS_PAGE:
            created_at, order_id = newest_first[ORDERS_PAGE - 1]
            digest = filters_digest(**vars(OrderFilters(subject)))
            query["cursor"] = self.cursors.encode(digest, [created_at.isoformat(), order_id])
        return query

    def order_filter(self, newest_first: list[tuple[datetime, str]]) -> dict[str, str]:
        if self.rng.random() < 0.5:
            return {"status": self.rng.choice(["invoiced", "invoiced", "created", "cancelled"])}
        # A week starting on the day of one of the user's orders.
        start = self.rng.choice(newest_first)[0].replace(hour=0, minute=0, second=0)
        end = start + timedelta(days=7)
        return {"createdFrom": _utc(start), "createdTo": _utc(end)}

    def products_query(self, kind: Kind) -> dict[str, str]:
        query = {"limit": str(PRODUCTS_PAGE)}
        pages = -(-self.seeded.products // PRODUCTS_PAGE)
        if kind is Kind.PRODUCTS_NEXT and pages > 1:
            page = min(pages, 2 + int(self.rng.expovariate(1.0)))  # page 2 most, then fewer
            last = product_id((page - 1) * PRODUCTS_PAGE - 1)  # ids sort as their numbers
            query["cursor"] = self.cursors.encode(filters_digest(), [last])
        return query

    def history_query(self, kind: Kind, product: int) -> dict[str, str]:
        if kind is Kind.HISTORY:
            if self.rng.random() < 0.5:
                return {}  # the whole history (the default limit holds it)
            return {"from": (self.seeded.last_day - timedelta(days=29)).isoformat()}
        days = stock_days(product, self.seeded.last_day)
        query = {"limit": str(HISTORY_PAGE)}
        if len(days) > HISTORY_PAGE:
            digest = filters_digest(product_id=product_id(product), since=None, until=None)
            query["cursor"] = self.cursors.encode(digest, [days[HISTORY_PAGE - 1].day.isoformat()])
        return query


def user_orders(user: int, seeded: Seeded) -> list[tuple[datetime, str]]:
    """(created_at, order_id) of user ``user``'s seeded orders, newest first, as the API sorts."""
    found = [
        (o["created_at"], str(o["order_id"]))
        for o in (
            next(orders(k + 1, seeded.users, start=k))
            for k in range(user, seeded.orders, seeded.users)
        )
    ]
    return sorted(found, reverse=True)


def _utc(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")  # "+" in a query string reads as a space
