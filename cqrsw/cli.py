"""``cqrsw``: operator commands (stack, ingest, outbox, dbt, publish, token, demo)."""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
from datetime import datetime
from typing import Any

from kafka.errors import KafkaError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from config.settings import ConfigurationError, Settings, load_settings
from contracts.catalog import TOPICS
from cqrsw import observe
from cqrsw.processes import StackError
from database.names import SERVICE_DATABASES
from ingest.batches import DeadlineExceeded
from ingest.job import IngestBusy
from ingest.positions import IngestError

# Wide enough for the demo's tables when output is not a terminal (make, CI logs).
console = Console(width=max(shutil.get_terminal_size((130, 24)).columns, 130))


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigurationError as exc:
        print(exc, file=sys.stderr)
        raise SystemExit(2) from None


def _print_where(title: str, where: dict[str, str]) -> None:
    table = Table(title=title)
    table.add_column("part")
    table.add_column("where")
    for part, address in where.items():
        table.add_row(part, address)
    console.print(table)


def cmd_stack(args: argparse.Namespace) -> int:
    from cqrsw.stack import Stack

    stack = Stack(_settings())
    if args.action == "up":
        where = stack.up(
            services=args.services,
            airflow=args.airflow,
            gateway=args.gateway,
            prometheus=args.prometheus,
        )
        _print_where("cqrs-warehouse stack is up", where)
    elif args.action == "down":
        stopped = stack.down()
        console.print(f"stopped: {', '.join(stopped) if stopped else 'nothing was running'}")
    else:
        _print_where("cqrs-warehouse stack", stack.status())
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    from config import tracing
    from ingest.job import run_ingest
    from ingest.progress import print_report, progress_bar

    settings = _settings()
    tracing.configure(settings, "ingest")
    topics = tuple(args.topic) if args.topic else TOPICS
    with progress_bar(console) as on_progress:
        report = run_ingest(
            settings, topics=topics, batch_size=args.batch_size, on_progress=on_progress
        )
    print_report(console, report)
    return 0


def cmd_outbox(args: argparse.Namespace) -> int:
    from database import connections
    from services import outbox

    settings = _settings()
    if args.action == "replay":
        with connections.connect(settings, args.service) as conn:
            n = outbox.replay(conn, args.since)
        console.print(f"{args.service}: {n} events marked for re-publication since {args.since}")
        return 0
    pool = connections.open_pool(settings, args.service, max_size=2)
    try:
        published = outbox.Relay(settings, pool).drain()
    finally:
        pool.close()
    console.print(f"{args.service}: published {published} events")
    return 0


def cmd_dead_letters(args: argparse.Namespace) -> int:
    from cqrsw import dead_letters

    return dead_letters.run(_settings(), args, console)


def cmd_dbt(args: argparse.Namespace) -> int:
    from pipeline.dbt import run_dbt

    run_dbt(_settings(), *args.dbt_args)
    return 0


def cmd_publish(_: argparse.Namespace) -> int:
    from pipeline.steps import gated_publish

    gate, published = gated_publish(_settings())
    console.print(f"quality gate passed; Data Docs: {gate['data_docs']}")
    for view, rows in published.items():
        console.print(f"serving.{view}: {rows} rows written")
    return 0


def cmd_pipeline(_: argparse.Namespace) -> int:
    from pipeline.steps import run_pipeline

    def show(step: str, result: Any) -> None:
        if step == "ingest":
            console.print(f"ingest: {result['messages']} messages")
        elif step == "validate":
            console.print(f"validate: passed (Data Docs: {result['data_docs']})")
        elif step == "publish":
            rows = ", ".join(f"{view} {n}" for view, n in result.items())
            console.print(f"publish: rows written: {rows}")
        elif step == "record freshness":
            console.print(f"freshness: newest event {result['lag_seconds']} s old")
        else:
            console.print(f"{step}: ok")

    run_pipeline(_settings(), show)
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    from services.tokens import CUSTOMER, issue_token

    roles = args.role or [CUSTOMER]
    try:
        print(issue_token(_settings(), args.subject, roles=roles, ttl_s=args.ttl))
    except RuntimeError as exc:  # RS256: tokens come from the identity provider
        print(exc, file=sys.stderr)
        return 2
    return 0


def cmd_demo(_: argparse.Namespace) -> int:
    from cqrsw.demo import run_demo

    return run_demo(_settings(), console)


def _since(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not an ISO 8601 time: {value!r} (e.g. 2026-11-27T10:00:00Z)"
        ) from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"give a time zone, e.g. {value}Z")
    return moment


def _positive_int(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"not a positive whole number: {value!r}")
    return int(value)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cqrsw", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

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
    p.set_defaults(func=cmd_stack)

    p = sub.add_parser("ingest", help="sink the Kafka topics into the raw warehouse tables")
    p.add_argument("--topic", action="append", choices=TOPICS, help="only this topic (repeatable)")
    p.add_argument("--batch-size", type=int, default=5000, choices=range(1, 100_001), metavar="N")
    p.add_argument(
        "--workers", type=int, choices=range(1, 65), metavar="N",
        help="processes to split the partitions over (default: by backlog and cores)",
    )  # fmt: skip
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("outbox", help="publish or re-publish a service's outbox")
    p.add_argument("action", choices=["relay", "replay"])
    p.add_argument("--service", required=True, choices=SERVICE_DATABASES)
    p.add_argument("--since", type=_since, help="replay: re-publish events recorded since then")
    p.set_defaults(func=cmd_outbox)

    from cqrsw.dead_letters import add_parser as add_dead_letters

    add_dead_letters(sub).set_defaults(func=cmd_dead_letters)

    p = sub.add_parser("dbt", help="run a dbt command against the warehouse")
    p.add_argument("dbt_args", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_dbt)

    p = sub.add_parser(
        "publish", help="run the quality gate, then publish the marts to `serving` if it passed"
    )
    p.set_defaults(func=cmd_publish)

    p = sub.add_parser("pipeline", help="one pass as the DAG runs it")
    p.add_argument("action", choices=["run"], help="ingest, dbt build, gate, publish, freshness")
    p.set_defaults(func=cmd_pipeline)

    from services.tokens import ROLES

    p = sub.add_parser("token", help="issue a development JWT (HS256)")
    p.add_argument("subject")
    p.add_argument(
        "--role",
        action="append",
        choices=ROLES,
        help="a role the token grants; repeat for several (default: customer)",
    )
    p.add_argument("--ttl", type=_positive_int, default=3600, help="lifetime in seconds")
    p.set_defaults(func=cmd_token)

    p = sub.add_parser("demo", help="run the whole pipeline end to end on the embedded stack")
    p.set_defaults(func=cmd_demo)
    observe.add_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    if args.command == "outbox" and args.action == "replay" and args.since is None:
        build_parser().error("outbox replay needs --since")
    try:
        code: int = args.func(args)
    except StackError as exc:
        console.print(f"[red]stack error[/red] {exc}")
        return 1
    except (IngestBusy, DeadlineExceeded, IngestError, KafkaError) as exc:
        console.print(f"[red]{type(exc).__name__}:[/red] {escape(str(exc))}", highlight=False)
        return 1
    except Exception as exc:
        from pipeline.dbt import DbtFailed
        from pipeline.publish import PublishFailed
        from quality.gate import DataQualityFailed

        if isinstance(exc, DbtFailed | DataQualityFailed | PublishFailed):
            console.print(f"[red]{type(exc).__name__}:[/red] {escape(str(exc))}", highlight=False)
            console.print("[red]nothing was published[/red]")
            return 1
        raise
    return code


if __name__ == "__main__":
    sys.exit(main())
