"""The service's CPU per first read, called in-process: where a read's time goes, without wrk.

A throwaway PostgreSQL gets ``--orders`` orders (bench/read_seed.py); the read API with
nothing kept (``read_cache_mb=0``) and the ceiling (bench/ceiling_app.py) are called as ASGI
apps in this process, one request after another on uvloop, each request with a user's own
token. The figure is this process's CPU time per request (``time.process_time``: PostgreSQL's
own work is not in it), the median of ``--rounds`` and its range. No server, no sockets to
the client: it leaves out uvicorn's HTTP parsing (the same for both apps) and, unlike wrk's
requests per second, hardly moves with the load of a shared machine. Prints, last:
``read_cpu_us=<orders route> ceiling_cpu_us=<constant> ratio=<ceiling / read>``.

    .venv/bin/python -m bench.read_cpu
    .venv/bin/python -m bench.read_cpu --orders 20000 --users 4000 --requests 4000 --rounds 3
"""

from __future__ import annotations

import argparse
import statistics
import time

import uvloop
from starlette.types import ASGIApp, Message

from bench.ceiling_app import create_app as ceiling_app
from bench.read_seed import prepare_schemas, seed, user_of
from services.read_api.app import create_app as read_api_app
from services.tokens import issue_token
from tests.support.throwaway_stack import throwaway_stack

Call = tuple[str, bytes, bytes]  # path, query string, bearer token


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--users", type=int, default=4_000)
    parser.add_argument("--requests", type=int, default=4_000, help="per target and round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not 0 < args.users <= args.orders or min(args.requests, args.rounds) < 1:
        parser.error("need 0 < --users <= --orders, --requests >= 1 and --rounds >= 1")
    return args


async def status_of(app: ASGIApp, call: Call) -> int:
    path, query, token = call
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": query,
        "root_path": "", "headers": [(b"host", b"bench"), (b"authorization", b"Bearer " + token)],
        "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80),
    }  # fmt: skip
    status = 0

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


async def cpu_per_request(
    app: ASGIApp, calls: list[Call], requests: int, rounds: int
) -> list[float]:
    """Microseconds of this process's CPU per request, one figure per round."""
    for call in calls:  # warm-up: every token verified once, every statement prepared
        if await status_of(app, call) != 200:
            raise SystemExit(f"{call[0]}?{call[1].decode()}: not 200")
    figures = []
    for _ in range(rounds):
        started = time.process_time()
        for i in range(requests):
            await status_of(app, calls[i % len(calls)])
        figures.append((time.process_time() - started) / requests * 1e6)
    return figures


def summary(name: str, figures: list[float]) -> str:
    return (
        f"{name:28} {statistics.median(figures):6.0f} us CPU per request"
        f" ({min(figures):.0f}-{max(figures):.0f})"
    )


def main() -> None:
    args = arguments()
    with throwaway_stack(kafka=False, read_cache_mb=0) as settings:
        prepare_schemas(settings)
        seed(settings, args.orders, args.users)
        users = [user_of(i, args.users) for i in range(0, args.users, max(1, args.users // 500))]
        tokens = {user: issue_token(settings, user).encode() for user in users}
        targets: dict[str, list[Call]] = {
            "ceiling /constant": [("/constant", b"", t) for t in tokens.values()],
            "read /orders-with-invoices": [
                ("/orders-with-invoices", f"userId={u}".encode(), t) for u, t in tokens.items()
            ],
            "read /products": [("/products", b"", t) for t in tokens.values()],
        }
        read_api = read_api_app(settings)
        results: dict[str, list[float]] = {}

        async def measure() -> None:
            async with read_api.router.lifespan_context(read_api):
                for name, calls in targets.items():
                    app = ceiling_app() if name.startswith("ceiling") else read_api
                    results[name] = await cpu_per_request(app, calls, args.requests, args.rounds)

        uvloop.run(measure())
    print(f"read CPU: {args.orders:,} orders of {args.users:,} users, nothing kept")
    for name, figures in results.items():
        print(summary(name, figures))
    read = statistics.median(results["read /orders-with-invoices"])
    ceiling = statistics.median(results["ceiling /constant"])
    print(f"read_cpu_us={read:.0f} ceiling_cpu_us={ceiling:.0f} ratio={ceiling / read:.3f}")


if __name__ == "__main__":
    main()
