"""What every ``cqrsw`` command prints with, and its settings or a clear exit."""

from __future__ import annotations

import shutil

from rich.console import Console
from rich.table import Table

# Wide enough for the demo's tables when output is not a terminal (make, CI logs).
console = Console(width=max(shutil.get_terminal_size((130, 24)).columns, 130))


def print_where(title: str, where: dict[str, str]) -> None:
    table = Table(title=title)
    table.add_column("part")
    table.add_column("where")
    for part, address in where.items():
        table.add_row(part, address)
    console.print(table)
