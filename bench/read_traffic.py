"""The read path under traffic shaped like a front end's, with the pipeline publishing meanwhile.

The data of bench/read_latency.py (1,000,000 orders of 200,000 users, COPY into the write
services' tables and ``serving``), plus products with 120 days of stock history published
by the pipeline's publish step (bench/product_seed.py). The requests are drawn once
(bench/traffic.py): users and products with a Zipf popularity, every user with their own
token, first pages, next pages through cursors the API accepts, filters, the product list,
one product's stock and its history. While wrk sends them, a thread publishes every
``--publish-every`` seconds as the continuous pipeline does under write load
(bench/traffic_publisher.py: new orders and stock operations, then ``publish_views``, whose
``NOTIFY`` makes the read API drop what it kept of each view).

Targets, each for ``--seconds`` per round, ``--rounds`` rounds, in the same run: a bare
FastAPI constant (the ceiling, bench/ceiling_app.py); the read API keeping answers (its
default) and the read API computing every answer (``CQRSW_READ_CACHE_MB=0``), both with the
whole mix; the BFF with the requests of the mix it can answer (first pages of orders). A
sample of each kind is checked to answer 200 (a next page with rows) before the load, and
the BFF's answers equal to the read API's. Prints per target requests/s, p50 and p99
(median of the rounds and their range), the share of the kept read API's answers that came
from kept answers, the publications made, the load average, and last the ratios it is
judged by: ``ratio=<BFF p99 / CQRS p99 with kept answers, on the same requests>`` (bar: at
least 3; the read API is driven a second time with only the BFF's requests, first pages of
orders, so the two p99s are of the same questions; the ratio to the whole mix's p99 is
printed beside it) and ``kept_over_ceiling=<kept read API req/s / ceiling req/s>``.

    .venv/bin/python -m bench.read_traffic                       # 1,000,000 orders
    .venv/bin/python -m bench.read_traffic --orders 20000 --users 4000 --products 500 \
        --requests 20000 --seconds 5 --rounds 1                  # a quick look
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from collections import Counter
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta

import httpx

from bench.product_seed import mirror_orders, seed_products
from bench.read_latency import kept_answers, same_answer, summary, timed
from bench.read_seed import prepare_schemas, seed
from bench.traffic import BFF_KINDS, MIX, ZIPF_S, Kind, Request, Seeded, traffic
from bench.traffic_publisher import Publisher
from bench.wrk_driver import WrkResult, drive, ensure_wrk
from config.settings import Settings
from pipeline.publish import publish_views
from services.read_api.cursors import Cursors
from services.tokens import issue_token
from tests.support.throwaway_stack import throwaway_stack
from tests.support.uvicorn_process import uvicorn_process

# One publishing run of the @continuous pipeline took 8.4-12.2 s on a quiet machine, 12-14
# runs in 120 s of commands (docs/benchmarks.md, freshness under Airflow).
PUBLISH_EVERY_S = 10.0
CHECKED_PER_KIND = 20
Targets = list[tuple[str, str]]


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--products", type=int, default=5_000)
    parser.add_argument("--requests", type=int, default=200_000, help="drawn, wrk picks among")
    parser.add_argument("--zipf", type=float, default=ZIPF_S, help="popularity exponent s")
    parser.add_argument("--seconds", type=int, default=15, help="of load per target and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--publish-every", type=float, default=PUBLISH_EVERY_S, help="seconds")
    parser.add_argument("--seed", type=int, default=1, help="of the random draws")
    args = parser.parse_args()
    if not 0 < args.users <= args.orders:
        parser.error("--users must be between 1 and --orders")
    counts = (args.products, args.requests, args.seconds, args.rounds, args.connections)
    if min(*counts, args.threads) < 1 or args.zipf <= 0 or args.publish_every <= 0:
        parser.error("counts, --zipf and --publish-every must be positive")
    return args


def load_average() -> str:
    return "/".join(f"{v:.1f}" for v in os.getloadavg())


def checked(read_api: str, bff: str, sample: dict[Kind, list[tuple[Request, str]]]) -> None:
    """Every kind answers 200 (a next page with rows); the BFF answers as the read API."""
    for kind, requests in sample.items():
        for request, token in requests:
            got = httpx.get(read_api + request.path, headers=_bearer(token), timeout=10)
            if got.status_code != 200 or (kind.endswith("-next") and not got.json()):
                raise SystemExit(f"{request.path}: {got.status_code} {got.text[:300]}")
    same_answer(read_api, bff, [(r.path, t) for k in BFF_KINDS for r, t in sample.get(k, [])])


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def shares(before: dict[str, float], after: dict[str, float]) -> tuple[float, float]:
    """The share of answers kept and the answers counted between two readings."""
    kept = after.get("kept", 0) - before.get("kept", 0)
    read = after.get("read", 0) - before.get("read", 0)
    return (kept / (kept + read) if kept + read else 0.0), kept + read


def seeded_stack(settings: Settings, args: argparse.Namespace) -> Seeded:
    last_day = datetime.now(UTC).date() - timedelta(days=1)
    seeded = Seeded(args.orders, args.users, args.products, last_day)
    schema_s = timed(lambda: prepare_schemas(settings))
    seed_s = timed(lambda: seed(settings, args.orders, args.users))
    marts_s = timed(lambda: mirror_orders(settings))
    marts_s += timed(lambda: seed_products(settings, args.products, last_day))
    publish_s = timed(lambda: publish_views(settings))
    print(
        f"schemas {schema_s:.0f}s, orders into both sides {seed_s:.0f}s, marts {marts_s:.0f}s,"
        f" products published {publish_s:.0f}s",
        flush=True,
    )
    return seeded


def main() -> None:
    args = arguments()
    ensure_wrk()
    print(f"load average at start {load_average()}", flush=True)
    with throwaway_stack(kafka=False) as settings, ExitStack() as running:
        print(
            f"read traffic: {args.orders:,} orders of {args.users:,} users, {args.products:,}"
            f" products; {args.requests:,} requests drawn (Zipf s={args.zipf:g});"
            f" publishing every {args.publish_every:g} s",
            flush=True,
        )
        seeded = seeded_stack(settings, args)
        rng = random.Random(args.seed)
        drawn = traffic(seeded, args.requests, Cursors(settings.read_token_secret), rng, args.zipf)
        tokens = {s: issue_token(settings, s, ttl_s=6 * 3600) for s in {r.subject for r in drawn}}
        kinds = Counter(r.kind for r in drawn)
        top = Counter(r.subject for r in drawn).most_common(1)[0][1]
        print(
            f"{len(tokens):,} users asked, the most popular {top:,} times; "
            + ", ".join(f"{k} {kinds[k]:,}" for k in MIX),
            flush=True,
        )
        env = settings.as_env()
        serve = running.enter_context
        write_env = {**env, "CQRSW_BFF_READS": "true"}
        orders = serve(uvicorn_process("services.orders.app:create_app", write_env))
        invoices = serve(uvicorn_process("services.invoices.app:create_app", write_env))
        bff_env = {**env, "CQRSW_BFF_ORDERS_URL": orders, "CQRSW_BFF_INVOICES_URL": invoices}
        read_api = "services.read_api.app:create_app"
        urls = {
            "ceiling": serve(
                uvicorn_process("bench.ceiling_app:create_app", {}, health="/constant")
            ),
            "kept": serve(uvicorn_process(read_api, env)),
            "computed": serve(uvicorn_process(read_api, {**env, "CQRSW_READ_CACHE_MB": "0"})),
            # The BFF has no /health (no database of its own): its API description answers.
            "bff": serve(
                uvicorn_process("services.bff.app:create_app", bff_env, health="/openapi.json")
            ),
        }
        # The same kept read API, asked only what the BFF is asked: the like-for-like p99.
        urls["kept-bff-requests"] = urls["kept"]
        sample: dict[Kind, list[tuple[Request, str]]] = {}
        for request in drawn:
            if len(sample.setdefault(request.kind, [])) < CHECKED_PER_KIND:
                sample[request.kind].append((request, tokens[request.subject]))
        checked(urls["computed"], urls["bff"], sample)
        every = [(r.path, tokens[r.subject]) for r in drawn]
        targets: dict[str, Targets] = {
            "ceiling": [("/constant", token) for _, token in every],
            "kept": every,
            "computed": every,
            "bff": [(r.path, tokens[r.subject]) for r in drawn if r.kind in BFF_KINDS],
        }
        targets["kept-bff-requests"] = targets["bff"]
        publisher = Publisher(settings, seeded, args.publish_every, random.Random(args.seed + 1))
        load = {"connections": args.connections, "threads": args.threads}
        results: dict[str, list[WrkResult]] = {name: [] for name in urls}
        kept_share: list[float] = []
        publications: list[int] = []
        loads = [load_average()]
        publisher.start()
        try:
            for name, url in urls.items():  # warm-up: connections, pools, the first answers
                drive(url, targets[name], seconds=3, **load)
            for _ in range(args.rounds):
                for name, url in urls.items():
                    before, started = kept_answers(urls["kept"]), time.monotonic()
                    results[name].append(drive(url, targets[name], seconds=args.seconds, **load))
                    if name == "kept":
                        kept_share.append(shares(before, kept_answers(urls["kept"]))[0])
                        publications.append(publisher.published.between(started, time.monotonic()))
                loads.append(load_average())
        finally:
            publisher.stop()
    report(args, results, kept_share, publications, publisher, loads)


def report(
    args: argparse.Namespace,
    results: dict[str, list[WrkResult]],
    kept_share: list[float],
    publications: list[int],
    publisher: Publisher,
    loads: list[str],
) -> None:
    for name, runs in results.items():
        print(summary(name, runs))
    print(
        f"answers kept: {statistics.median(kept_share):.1%}"
        f" ({min(kept_share):.1%}-{max(kept_share):.1%}) of the kept read API's answers;"
        f" publications during its rounds: {', '.join(map(str, publications))}"
    )
    print(f"publisher: {publisher.published.describe()}")
    print(f"load average (1/5/15 min) at the start and after each round: {', '.join(loads)}")
    failed = {n: sum(r.errors for r in runs) for n, runs in results.items()}
    if any(failed.values()) or publisher.published.failures:
        raise SystemExit(
            f"errors during the load (non-2xx or connection): {failed};"
            f" publications failed: {publisher.published.failures[:3]}"
        )
    rps = {n: statistics.median(r.rps for r in runs) for n, runs in results.items()}
    p99 = {n: statistics.median(r.p99_ms for r in runs) for n, runs in results.items()}
    print(
        f"ratio={p99['bff'] / p99['kept-bff-requests']:.2f}"
        f" bff_over_kept_whole_mix_p99={p99['bff'] / p99['kept']:.2f}"
        f" kept_over_ceiling={rps['kept'] / rps['ceiling']:.3f}"
        f" computed_over_ceiling={rps['computed'] / rps['ceiling']:.3f}"
        f" kept_share={statistics.median(kept_share):.3f}"
        f" bff_over_computed_p99={p99['bff'] / p99['computed']:.2f}"
        f" cqrs_p99_ms={p99['kept']:.2f} computed_p99_ms={p99['computed']:.2f}"
        f" bff_p99_ms={p99['bff']:.2f} kept_rps={rps['kept']:.0f}"
        f" computed_rps={rps['computed']:.0f} ceiling_rps={rps['ceiling']:.0f}"
    )


if __name__ == "__main__":
    main()
