"""``cqrsw dead-letters list | show | replay | discard``: the operator's side of dead letters."""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from config.settings import Settings
from contracts.catalog import TOPICS
from contracts.key_files import trusted_keys
from cqrsw.arguments import aware_time
from cqrsw.printable import printable, printable_bytes
from database import connections
from database.names import WAREHOUSE_DATABASE
from ingest import dead_letters


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "dead-letters", help="list, show, replay (after a fix) or discard dead letters"
    )
    p.add_argument("action", choices=["list", "show", "replay", "discard"])
    p.add_argument("ids", nargs="*", type=int, metavar="ID", help="only these dead letters")
    p.add_argument("--topic", choices=TOPICS, help="only this topic")
    p.add_argument("--reason", help="only dead letters whose reason contains this text")
    p.add_argument("--since", type=aware_time, help="only dead-lettered at or after this time")
    p.add_argument("--until", type=aware_time, help="only dead-lettered before this time")
    p.add_argument("--note", help="discard: why (kept in raw.dead_letter_archive); required")
    p.add_argument("--limit", type=int, default=100, choices=range(1, 100_001), metavar="N")
    return p


def run(settings: Settings, args: argparse.Namespace, console: Console) -> int:
    selection = dead_letters.Selection(
        ids=tuple(args.ids), topic=args.topic, reason=args.reason,
        since=args.since, until=args.until,
    )  # fmt: skip
    if args.action in ("discard", "replay") and selection == dead_letters.Selection():
        console.print(f"[red]{args.action} needs a filter or ids[/red] (every dead letter?)")
        return 2
    if args.action == "discard" and not args.note:
        console.print("[red]discard needs --note saying why[/red]")
        return 2
    with connections.connect(settings, WAREHOUSE_DATABASE) as conn:
        if args.action == "list":
            _print_list(console, dead_letters.find(conn, selection, limit=args.limit))
        elif args.action == "show":
            for letter in dead_letters.find(conn, selection, limit=args.limit):
                _print_one(console, letter)
        elif args.action == "replay":
            result = dead_letters.replay(conn, selection, trusted_keys(settings))
            console.print(
                f"replayed: {len(result.rescued)} now in raw, {len(result.duplicates)} were"
                f" already there (archived), {len(result.still_dead)} still refused"
            )
            for letter_id, reason in sorted(result.still_dead.items()):
                console.print(f"  {letter_id}: {escape(printable(reason))}", highlight=False)
        else:
            discarded = dead_letters.discard(conn, selection, args.note)
            console.print(f"discarded {len(discarded)} (kept in raw.dead_letter_archive)")
    return 0


def _print_list(console: Console, letters: list[dead_letters.Stored]) -> None:
    table = Table(title=f"{len(letters)} dead letters")
    for column in ("id", "topic", "partition", "offset", "dead-lettered at", "reason"):
        table.add_column(column)
    for d in letters:
        reason = d.reason if len(d.reason) <= 100 else d.reason[:97] + "..."
        table.add_row(
            str(d.id), d.topic, str(d.partition), str(d.offset),
            d.ingested_at.isoformat(timespec="seconds"), escape(printable(reason)),
        )  # fmt: skip
    console.print(table)


def _print_one(console: Console, d: dead_letters.Stored) -> None:
    console.print(f"[bold]dead letter {d.id}[/bold] {d.topic}[{d.partition}]@{d.offset}")
    console.print(f"dead-lettered at: {d.ingested_at.isoformat()}")
    # The key, the value and the reason (which quotes them) are anyone's bytes.
    console.print(f"reason: {escape(printable(d.reason))}", highlight=False)
    console.print(f"key: {escape(printable_bytes(d.key))}", highlight=False)
    console.print(f"value: {escape(printable_bytes(d.value))}", highlight=False)
