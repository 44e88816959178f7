"""Progress bar and end-of-run summary of ``cqrsw ingest``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from ingest.report import IngestReport


@contextmanager
def progress_bar(console: Console) -> Iterator[Callable[[int, int], None]]:
    with Progress(
        TextColumn("ingest"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=console, transient=True,
    ) as progress:  # fmt: skip
        task = progress.add_task("ingest", total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield update


def print_report(console: Console, report: IngestReport) -> None:
    for reset in report.resets:
        console.print(f"[bold red]broker lost data:[/bold red] {reset}")
    title = f"ingest: {report.messages} messages in {report.seconds:.1f}s"
    table = Table(title=title + (f" ({report.workers} processes)" if report.workers > 1 else ""))
    for column in ("topic", "rows written", "dead letters", "lag left"):
        table.add_column(column, justify="left" if column == "topic" else "right")
    for topic, t in sorted(report.topics.items()):
        table.add_row(topic, str(t.rows_written), str(t.dead_letters), str(t.lag_left))
    console.print(table)
