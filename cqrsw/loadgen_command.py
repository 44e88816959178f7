"""``cqrsw loadgen`` and ``cqrsw check``: load a running stack, then check what it made of it."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import UTC
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from config.settings import settings_or_exit
from cqrsw.arguments import aware_time
from cqrsw.terminal import console


def _bounded(kind: Callable[[str], Any], low: float, high: float) -> Callable[[str], Any]:
    def parse(value: str) -> Any:
        try:
            number = kind(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
        if not low <= number <= high:
            raise argparse.ArgumentTypeError(f"{value} is not in {low:g}..{high:g}")
        return number

    return parse


def cmd_loadgen(args: argparse.Namespace) -> int:
    from loadtest.loadgen import LoadGenerator
    from loadtest.traffic import Traffic, TrafficShape

    settings = settings_or_exit()
    shape = TrafficShape(users=args.users, poison_share=args.poison_share)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    total = int(args.rate * args.duration)
    columns = (TextColumn("loadgen"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with args.out.open("w") as out, Progress(*columns, console=console) as progress:
        task = progress.add_task("commands", total=total)
        generator = LoadGenerator(settings, Traffic(args.seed, shape), out, args.concurrency)
        summary = generator.run(args.rate, args.duration, lambda n: progress.advance(task, n))
    per_s = summary.sent / max(summary.seconds, 1e-9)
    title = f"loadgen seed {args.seed}: {summary.sent} commands in {summary.seconds:.1f}s"
    table = Table(title=f"{title} ({per_s:.1f}/s)")
    outcomes = sorted({o for _, o in summary.outcomes})
    table.add_column("kind")
    for name in outcomes:
        table.add_column(name, justify="right")
    for kind in sorted({k for k, _ in summary.outcomes}):
        table.add_row(kind, *(str(summary.outcomes[(kind, o)]) for o in outcomes))
    console.print(table)
    console.print(
        f"asked again with their idempotency key: {summary.asked_again} attempts;"
        f" commands still of unknown outcome: {summary.unresolved}"
    )
    console.print(f"recorded every command and its answer in {args.out}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from loadtest.invariants import check_record

    settings = settings_or_exit()
    report = check_record(
        settings, args.record, strict=args.strict, broker_lost=args.broker_lost, reads=args.reads
    )
    for line in report.lines():
        console.print(line, highlight=False)
    return 0 if report.ok else 1


def _utc_iso(value: str) -> str:
    """An aware time, written as the record writes ``answered_at`` so that the two compare."""
    return aware_time(value).astimezone(UTC).isoformat()


def add_parsers(sub: Any) -> None:
    p = sub.add_parser("loadgen", help="send realistic traffic to the running services")
    p.add_argument("--seed", type=int, default=1, help="same seed, same commands (default 1)")
    p.add_argument("--rate", type=_bounded(float, 0.1, 10_000), default=20.0, metavar="PER_S")
    p.add_argument("--duration", type=_bounded(float, 1, 86_400), default=30.0, metavar="S")
    p.add_argument("--concurrency", type=_bounded(int, 1, 256), default=8, metavar="N")
    p.add_argument("--users", type=_bounded(int, 1, 1_000_000), default=50, metavar="N")
    p.add_argument(
        "--poison-share", type=_bounded(float, 0, 1), default=0.02, metavar="SHARE",
        help="share of poison messages produced straight to Kafka (default 0.02)",
    )  # fmt: skip
    p.add_argument(
        "--out", type=Path, default=Path(".cqrsw/loadgen.jsonl"),
        help="where every command and its answer is recorded (JSONL)",
    )  # fmt: skip
    p.set_defaults(func=cmd_loadgen)

    p = sub.add_parser(
        "check", help="check a load run's record against the warehouse after a pipeline pass"
    )
    p.add_argument("record", type=Path, help="the JSONL file `cqrsw loadgen` wrote")
    p.add_argument(
        "--strict", action="store_true",
        help="the warehouse saw only this run: an event no command accounts for is a violation",
    )  # fmt: skip
    p.add_argument(
        "--reads", action="store_true",
        help="also read each user's orders through the running read API",
    )  # fmt: skip
    p.add_argument(
        "--broker-lost-at", dest="broker_lost", metavar="TIME", type=_utc_iso,
        help="when a memory-only broker came back empty (ISO 8601 UTC): poison produced"
        " before then and never ingested is counted as lost, not as a violation",
    )  # fmt: skip
    p.set_defaults(func=cmd_check)
