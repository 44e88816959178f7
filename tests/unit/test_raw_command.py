"""``cqrsw raw``: a wrong date or a missing one is a usage error, before anything connects."""

from __future__ import annotations

import pytest

from cqrsw.cli import build_parser, main


@pytest.mark.parametrize("value", ["2026-13-01", "yesterday", "2026-12-06T00:00Z", ""])
def test_a_before_that_is_not_a_date_is_refused(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["raw", "archive", "--before", value])
    assert exit_.value.code == 2
    assert "not a date YYYY-MM-DD" in capsys.readouterr().err


def test_archive_without_a_date_says_what_it_needs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["raw", "archive"]) == 2
    assert "archive needs --before YYYY-MM-DD" in capsys.readouterr().out


def test_a_date_is_read_as_a_calendar_day() -> None:
    args = build_parser().parse_args(["raw", "archive", "--before", "2026-11-01"])
    assert (args.action, str(args.before)) == ("archive", "2026-11-01")
