"""CQRS read against a BFF that fans out to the write services, and a constant's ceiling.

A throwaway PostgreSQL gets 1,000,000 orders of 200,000 users (an invoice for four in
five, a cancellation for one in twenty), written with COPY both to the orders and invoices
services' tables and to the published view ``serving.orders_with_invoices``
(bench/read_seed.py). Then, as real uvicorn processes with the same settings: the read API
(CQRS: one query on one view), the orders and invoices services with the BFF in front of
them (two HTTP calls, two databases, a join in Python) and a bare FastAPI endpoint returning
a constant (the ceiling: bench/ceiling_app.py). The BFF's and the read API's answers are
checked equal first. wrk (Debian's package; installed when missing) drives each in turn at
32 connections for ``--seconds``, ``--rounds`` times, each request for one of
``--sample-users`` users with that user's own token. Prints requests/s, p50 and p99 per
target (medians over the rounds, and their range), how the read API answered (kept: from
its answer cache, unchanged since the view's publication; read: computed; see
services/read_api/answer_cache.py; ``--read-cache-mb 0`` computes every answer) and, last:
``ratio=<BFF p99 / CQRS p99> cqrs_p99_ms=… bff_p99_ms=… cqrs_rps=… ceiling_rps=…``; with
``--without-bff``, ``ratio=<CQRS req/s / ceiling req/s> cqrs_rps=… ceiling_rps=… cqrs_p99_ms=…``.

    .venv/bin/python -m bench.read_latency                       # 1,000,000 orders
    .venv/bin/python -m bench.read_latency --orders 50000 --users 10000 --seconds 5
    .venv/bin/python -m bench.read_latency --orders 20000 --users 4000 --seconds 8 \
        --sample-users 2000 --without-bff              # ceiling and read API only
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from contextlib import ExitStack

import httpx

from bench.read_seed import prepare_schemas, seed, user_of
from bench.wrk_driver import WrkResult, drive, ensure_wrk
from services.tokens import issue_token
from tests.support.throwaway_stack import throwaway_stack
from tests.support.uvicorn_process import uvicorn_process

PATH = "/orders-with-invoices?userId={}"


def timed(step: Callable[[], object]) -> float:
    started = time.perf_counter()
    step()
    return time.perf_counter() - started


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--seconds", type=int, default=15, help="of load per target and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--sample-users", type=int, default=5_000)
    parser.add_argument(
        "--read-cache-mb",
        type=int,
        default=None,
        help="the read API's CQRSW_READ_CACHE_MB (0: every read computed); default: its own",
    )
    parser.add_argument(
        "--without-bff",
        action="store_true",
        help="only the ceiling and the read API (no ratio): a quick look at the read path",
    )
    args = parser.parse_args()
    if not 0 < args.users <= args.orders:
        parser.error("--users must be between 1 and --orders")
    if min(args.seconds, args.rounds, args.connections, args.threads, args.sample_users) < 1:
        parser.error("--seconds, --rounds, --connections, --threads, --sample-users must be >= 1")
    return args


def same_answer(cqrs: str, bff: str, targets: list[tuple[str, str]]) -> None:
    """The BFF must answer what the read API serves, or the comparison means nothing."""
    for path, token in targets[:: max(1, len(targets) // 20)]:
        headers = {"Authorization": f"Bearer {token}"}
        want = httpx.get(cqrs + path, headers=headers, timeout=10)
        got = httpx.get(bff + path, headers=headers, timeout=10)
        if want.status_code != 200 or not want.json() or got.json() != want.json():
            raise SystemExit(f"{path}: read API {want.status_code}, BFF {got.status_code} differ")


def kept_answers(read_api: str) -> dict[str, float]:
    """How the read API answered: kept (from its answer cache), read, always-read."""
    metrics = httpx.get(read_api + "/metrics/", timeout=10, follow_redirects=True).text
    counts: dict[str, float] = {}
    for line in metrics.splitlines():
        if line.startswith("cqrsw_read_answers_total{"):
            outcome = line.split('outcome="', 1)[1].split('"', 1)[0]
            counts[outcome] = float(line.rsplit(" ", 1)[1])
    return counts


def summary(name: str, runs: list[WrkResult]) -> str:
    def spread(values: list[float], unit: str, digits: int) -> str:
        return (
            f"{statistics.median(values):.{digits}f}{unit}"
            f" ({min(values):.{digits}f}-{max(values):.{digits}f})"
        )

    return (
        f"{name:8} {spread([r.rps for r in runs], ' req/s', 0)},"
        f" p50 {spread([r.p50_ms for r in runs], ' ms', 2)},"
        f" p99 {spread([r.p99_ms for r in runs], ' ms', 2)},"
        f" {sum(r.requests for r in runs):,} requests, {sum(r.errors for r in runs)} errors"
    )


def main() -> None:
    args = arguments()
    ensure_wrk()
    users = [
        user_of(i * args.users // args.sample_users, args.users)
        for i in range(min(args.sample_users, args.users))
    ]
    with throwaway_stack(kafka=False) as settings, ExitStack() as running:
        print(f"read latency: {args.orders:,} orders of {args.users:,} users", flush=True)
        schema_s = timed(lambda: prepare_schemas(settings))
        seed_s = timed(lambda: seed(settings, args.orders, args.users))
        print(f"schemas {schema_s:.0f}s, COPY into both sides {seed_s:.0f}s", flush=True)
        env = settings.as_env()
        read_env = (
            env
            if args.read_cache_mb is None
            else {**env, "CQRSW_READ_CACHE_MB": str(args.read_cache_mb)}
        )
        serve = running.enter_context
        urls = {
            "ceiling": serve(
                uvicorn_process("bench.ceiling_app:create_app", {}, health="/constant")
            ),
            "cqrs": serve(uvicorn_process("services.read_api.app:create_app", read_env)),
        }
        targets = [(PATH.format(u), issue_token(settings, u)) for u in users]
        if not args.without_bff:
            write_env = {**env, "CQRSW_BFF_READS": "true"}
            orders = serve(uvicorn_process("services.orders.app:create_app", write_env))
            invoices = serve(uvicorn_process("services.invoices.app:create_app", write_env))
            bff_env = {**env, "CQRSW_BFF_ORDERS_URL": orders, "CQRSW_BFF_INVOICES_URL": invoices}
            # The BFF has no /health (no database of its own): its API description answers.
            bff = uvicorn_process("services.bff.app:create_app", bff_env, health="/openapi.json")
            urls["bff"] = serve(bff)
            same_answer(urls["cqrs"], urls["bff"], targets)
        ceiling_targets = [("/constant", token) for _, token in targets]
        load = {"connections": args.connections, "threads": args.threads}
        results: dict[str, list[WrkResult]] = {name: [] for name in urls}
        for name, url in urls.items():  # warm-up: connections, pools, caches
            drive(url, ceiling_targets if name == "ceiling" else targets, seconds=3, **load)
        for _ in range(args.rounds):
            for name, url in urls.items():
                chosen = ceiling_targets if name == "ceiling" else targets
                results[name].append(drive(url, chosen, seconds=args.seconds, **load))
        answers = kept_answers(urls["cqrs"])
    for name, runs in results.items():
        print(summary(name, runs))
    print(
        "read API answers (warm-up included): "
        + ", ".join(f"{outcome} {count:,.0f}" for outcome, count in answers.items())
    )
    failed = {n: sum(r.errors for r in runs) for n, runs in results.items()}
    if any(failed.values()):
        raise SystemExit(f"errors during the load (non-2xx or connection): {failed}")
    cqrs_rps = statistics.median(r.rps for r in results["cqrs"])
    ceiling_rps = statistics.median(r.rps for r in results["ceiling"])
    cqrs_p99 = statistics.median(r.p99_ms for r in results["cqrs"])
    if args.without_bff:  # judged: the read path against the ceiling (at least 0.33x)
        print(
            f"ratio={cqrs_rps / ceiling_rps:.3f} cqrs_rps={cqrs_rps:.0f}"
            f" ceiling_rps={ceiling_rps:.0f} cqrs_p99_ms={cqrs_p99:.2f}"
        )
        return
    bff_p99 = statistics.median(r.p99_ms for r in results["bff"])
    print(
        f"ratio={bff_p99 / cqrs_p99:.2f} cqrs_p99_ms={cqrs_p99:.2f} bff_p99_ms={bff_p99:.2f}"
        f" cqrs_rps={cqrs_rps:.0f} ceiling_rps={ceiling_rps:.0f}"
    )


if __name__ == "__main__":
    main()
