"""``cqrsw raw archive | restore | release``: months of raw events to Parquet and back."""

from __future__ import annotations

import argparse
from datetime import date
from typing import Any

from rich.console import Console
from rich.markup import escape

from config.settings import Settings


def utc_date(value: str) -> date:
    """A calendar date, YYYY-MM-DD (UTC)."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {value!r}") from None


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(
        "raw",
        help="archive: raw months folded into the marts to Parquet, then drop them;"
        " restore / release: put them back for a rebuild, and drop them again",
    )
    p.add_argument("action", choices=["archive", "restore", "release"])
    p.add_argument(
        "--before", type=utc_date, help="archive: the partitions that end on or before this date"
    )
    return p


def run(settings: Settings, args: argparse.Namespace, console: Console) -> int:
    from pipeline import raw_archive

    if args.action == "archive" and args.before is None:
        console.print("[red]archive needs --before YYYY-MM-DD[/red]")
        return 2
    try:
        if args.action == "archive":
            for done in raw_archive.archive(settings, args.before):
                console.print(
                    f"archived raw.{done.partition}: {done.rows} rows, checked by reading back",
                    highlight=False,
                )
            console.print(f"archive: {raw_archive.archive_dir(settings)}", highlight=False)
        elif args.action == "restore":
            console.print(f"restored: {', '.join(raw_archive.restore(settings)) or 'none'}")
        else:
            console.print(f"released: {', '.join(raw_archive.release(settings)) or 'none'}")
    except raw_archive.ArchiveRefused as exc:
        console.print(f"[red]refused:[/red] {escape(str(exc))}", highlight=False)
        return 1
    return 0
