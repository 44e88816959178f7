"""The read-traffic bench's requests: Zipf-shaped popularity, and cursors and filters the read
API takes as its own (checked with the routes' own query model, digests and cursor key)."""

from __future__ import annotations

import math
import random
from collections import Counter
from datetime import date, datetime
from urllib.parse import parse_qsl, urlsplit

import pytest

from bench.product_seed import product_id, stock_days
from bench.traffic import (
    HISTORY_PAGE,
    MIX,
    ORDERS_PAGE,
    PRODUCTS_PAGE,
    Kind,
    Request,
    Seeded,
    traffic,
    user_orders,
    zipf,
)
from services.read_api.cursors import Cursors, filters_digest
from services.read_api.inputs import PRODUCT_ID_PATTERN
from services.read_api.order_queries import OrderFilters
from services.read_api.routes.orders import OrdersQuery

SECRET = b"test read-token key"
SEEDED = Seeded(orders=6_000, users=1_000, products=300, last_day=date(2026, 12, 5))


@pytest.fixture(scope="module")
def drawn() -> list[Request]:
    return traffic(SEEDED, 30_000, Cursors(SECRET), random.Random(7))


def slope(counts: list[int]) -> float:
    """Least-squares slope of log(count) against log(rank), ranks from 1."""
    xs = [math.log(r + 1) for r in range(len(counts))]
    ys = [math.log(c) for c in counts]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs
    )


@pytest.mark.parametrize("s", [0.8, 1.0, 1.2])
def test_zipf_ranks_fall_as_a_power_of_rank(s: float) -> None:
    ranks = Counter(zipf(5_000, s, random.Random(3))(200_000))
    counts = [ranks[r] for r in range(50)]
    assert slope(counts) == pytest.approx(-s, abs=0.15)
    harmonic = sum((r + 1) ** -s for r in range(5_000))
    assert ranks[0] / 200_000 == pytest.approx(1 / harmonic, rel=0.1)


def test_users_and_products_are_asked_with_zipf_popularity(drawn: list[Request]) -> None:
    users = sorted(Counter(r.subject for r in drawn).values(), reverse=True)
    assert slope(users[:40]) == pytest.approx(-1.0, abs=0.2)
    # The most popular user is not user-0: ranks are shuffled over the users.
    assert Counter(r.subject for r in drawn).most_common(1)[0][0] != "user-0"
    products = Counter(r.path.split("/")[2] for r in drawn if r.kind in (Kind.STOCK, Kind.HISTORY))
    assert slope(sorted(products.values(), reverse=True)[:20]) == pytest.approx(-1.0, abs=0.25)


def test_the_mix_is_the_declared_one(drawn: list[Request]) -> None:
    kinds = Counter(r.kind for r in drawn)
    for kind, weight in MIX.items():
        assert kinds[kind] / len(drawn) == pytest.approx(weight, abs=0.015), kind


def test_order_requests_parse_and_their_cursors_open_at_the_first_page_end(
    drawn: list[Request],
) -> None:
    cursors, nexts = Cursors(SECRET), 0
    for request in (r for r in drawn if r.path.startswith("/orders-with-invoices?")):
        query = OrdersQuery.model_validate(dict(parse_qsl(urlsplit(request.path).query)))
        assert query.user_id == request.subject
        if query.created_from and query.created_to:
            assert query.created_from < query.created_to
        filters = OrderFilters(query.user_id, query.status, query.created_from, query.created_to)
        if request.kind is Kind.ORDERS_NEXT:
            assert query.cursor is not None and query.limit == ORDERS_PAGE
            at, order_id = cursors.decode(query.cursor, filters_digest(**vars(filters)), 2)
            user = int(request.subject.removeprefix("user-"))
            assert (datetime.fromisoformat(at), order_id) == user_orders(user, SEEDED)[1]
            nexts += 1
        else:
            assert query.cursor is None
    assert nexts > 1_000


def test_product_requests_name_seeded_products_and_valid_cursors(drawn: list[Request]) -> None:
    cursors = Cursors(SECRET)
    ids = sorted(product_id(i) for i in range(SEEDED.products))
    for request in (r for r in drawn if r.path.startswith("/products")):
        url = urlsplit(request.path)
        query = dict(parse_qsl(url.query))
        parts = url.path.split("/")
        if request.kind in (Kind.PRODUCTS, Kind.PRODUCTS_NEXT):
            assert query["limit"] == str(PRODUCTS_PAGE)
            if request.kind is Kind.PRODUCTS_NEXT:
                (last,) = cursors.decode(query["cursor"], filters_digest(), 1)
                assert (ids.index(last) + 1) % PRODUCTS_PAGE == 0
            continue
        assert PRODUCT_ID_PATTERN.fullmatch(parts[2]) and parts[2] in ids
        index = ids.index(parts[2])
        if request.kind is Kind.HISTORY_NEXT:
            since = query.get("from")
            digest = filters_digest(product_id=parts[2], since=since, until=None)
            (day,) = cursors.decode(query["cursor"], digest, 1)
            days = stock_days(index, SEEDED.last_day)
            assert date.fromisoformat(day) == days[HISTORY_PAGE - 1].day
        elif "from" in query:
            assert date.fromisoformat(query["from"]) <= SEEDED.last_day


def test_a_cursor_for_other_filters_is_refused(drawn: list[Request]) -> None:
    """The check above can fail: the same cursor under another user's digest does not open."""
    request = next(r for r in drawn if r.kind is Kind.ORDERS_NEXT)
    cursor = dict(parse_qsl(urlsplit(request.path).query))["cursor"]
    with pytest.raises(Exception, match="other filters"):
        Cursors(SECRET).decode(cursor, filters_digest(**vars(OrderFilters("user-x"))), 2)
