"""``cqrsw trace`` output: a table per event for people, JSON for scripts."""

from __future__ import annotations

import sys

import orjson
from rich.console import Console
from rich.table import Table

from journeys.journey import Journey


def _seconds(value: float | None) -> str:
    return "" if value is None else f"+{value:.3f}s"


def print_journeys(journeys: list[Journey], identifier: str, *, as_json: bool) -> int:
    """Exit status: 0 when every event is served, 1 when one is stuck, 3 when none is found."""
    if as_json:
        sys.stdout.write(
            orjson.dumps(
                {"id": identifier, "events": [j.as_dict() for j in journeys]},
                option=orjson.OPT_INDENT_2,
            ).decode()
            + "\n"
        )
    else:
        console = Console(width=130)
        if not journeys:
            console.print(
                f"no event with event_id, request id, aggregate id or order id {identifier!r}"
                " in any outbox"
            )
        for j in journeys:
            table = Table(title=f"{j.event_type} {j.event_id} ({j.aggregate_id}): {j.state}")
            for column in ("hop", "at (UTC)", "spent", "detail"):
                table.add_column(column)
            for hop in j.hops:
                at = hop.at.isoformat(timespec="milliseconds") if hop.at else "-"
                table.add_row(hop.name, at, _seconds(hop.seconds_since_previous), hop.detail)
            console.print(table)
            if j.stuck:
                console.print(f"[yellow]stuck:[/yellow] {j.stuck}", highlight=False)
    if not journeys:
        return 3
    return 0 if all(j.stuck is None for j in journeys) else 1
