"""``cqrsw metrics serve`` and ``cqrsw trace``: what the on-call engineer runs."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from config.settings import settings_or_exit


def cmd_metrics(args: argparse.Namespace) -> int:
    from prometheus_client import start_http_server

    from pipeline.exporter import pipeline_registry

    settings = settings_or_exit()
    port = args.port or settings.metrics_port
    try:
        server, thread = start_http_server(port, args.host, registry=pipeline_registry(settings))
    except OSError as exc:  # a port in use, an address that is not this machine's
        print(f"cannot listen on {args.host}:{port}: {exc}", file=sys.stderr)
        return 2
    print(f"pipeline metrics on http://{args.host}:{port}/metrics", flush=True)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
    server.shutdown()
    thread.join(timeout=5)
    return 0


def cmd_trace(args: argparse.Namespace) -> int:
    import psycopg

    from journeys.sources import find_journeys
    from journeys.view import print_journeys

    settings = settings_or_exit()
    try:
        journeys = find_journeys(settings, args.id)
    except psycopg.OperationalError as exc:
        print(f"cannot read the outboxes or the warehouse: {exc}".strip(), file=sys.stderr)
        return 1
    status: int = print_journeys(journeys, args.id, as_json=args.json)
    return status


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("metrics", help="serve the pipeline's metrics to Prometheus")
    p.add_argument("action", choices=["serve"])
    p.add_argument(
        "--port", type=int, choices=range(1, 65536), metavar="PORT",
        help="default CQRSW_METRICS_PORT (9108)",
    )  # fmt: skip
    p.add_argument(
        "--host", default="127.0.0.1",
        help="address to listen on (0.0.0.0 in a container Prometheus scrapes from outside)",
    )  # fmt: skip
    p.set_defaults(func=cmd_metrics)

    p = sub.add_parser(
        "trace",
        help="where an event is: from the command to the serving views, or where it is stuck",
    )
    p.add_argument("id", help="an event_id, a request id (X-Request-Id) or an order id")
    p.add_argument("--json", action="store_true", help="the same, as JSON for scripts")
    p.set_defaults(func=cmd_trace)
