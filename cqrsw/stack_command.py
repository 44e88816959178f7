"""``cqrsw stack up|down|status``: the local stack, optionally kept up by a supervisor."""

from __future__ import annotations

import argparse
import signal
from types import FrameType
from typing import Any

from config.settings import settings_or_exit
from cqrsw.terminal import console, print_where


def _interrupt(signum: int, _: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0.1 <= seconds <= 3600:
        raise argparse.ArgumentTypeError(f"not a number of seconds in 0.1..3600: {value!r}")
    return seconds


def cmd_stack(args: argparse.Namespace) -> int:
    from stack.lifecycle import Stack
    from stack.supervisor import Supervisor

    stack = Stack(settings_or_exit())
    if args.action == "up":
        # SIGTERM as Ctrl-C: either way, `up` stops what it started before it exits.
        signal.signal(signal.SIGTERM, _interrupt)
        supervisor = Supervisor(
            stack,
            services=args.services,
            airflow=args.airflow,
            gateway=args.gateway,
            prometheus=args.prometheus,
        )
        print_where("cqrs-warehouse stack is up", supervisor.up())
        if args.supervise:
            console.print("supervising: a part that dies is started again; Ctrl-C stops all")
            try:
                supervisor.run(
                    args.interval,
                    lambda parts: console.print(f"restarted: {', '.join(parts)}"),
                    lambda error: console.print(f"[yellow]restart failed, retrying:[/] {error}"),
                )
            finally:
                console.print(f"stopped: {', '.join(supervisor.stop()) or 'nothing'}")
    elif args.action == "down":
        stopped = stack.down()
        console.print(f"stopped: {', '.join(stopped) if stopped else 'nothing was running'}")
    else:
        print_where("cqrs-warehouse stack", stack.status())
    return 0


def add_parser(sub: Any) -> None:
    p = sub.add_parser("stack", help="start, stop or show the local stack")
    p.add_argument("action", choices=["up", "down", "status"])
    p.add_argument("--services", action="store_true", help="also start the HTTP services")
    p.add_argument(
        "--airflow", action="store_true", help="also start Airflow (api-server, scheduler, ...)"
    )
    p.add_argument(
        "--gateway", action="store_true", help="also start the nginx API gateway (if installed)"
    )
    p.add_argument(
        "--prometheus", action="store_true",
        help="also start the pipeline exporter and Prometheus with the alert rules",
    )  # fmt: skip
    p.add_argument(
        "--supervise", action="store_true",
        help="up: stay in the foreground, start again a part that dies; Ctrl-C stops all",
    )  # fmt: skip
    p.add_argument(
        "--interval", type=_seconds, default=2.0, metavar="SECONDS",
        help="--supervise: how often to look (default 2)",
    )  # fmt: skip
    p.set_defaults(func=cmd_stack)
