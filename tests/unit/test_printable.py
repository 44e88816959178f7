"""`cqrsw dead-letters show` prints anyone's bytes without obeying their escape sequences."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from rich.console import Console

from cqrsw.dead_letters import _print_one
from cqrsw.printable import printable, printable_bytes
from ingest.dead_letters import Stored


def test_control_and_format_characters_are_shown_escaped() -> None:
    assert printable("a\x1b[2Jb\rc\x07\x9b") == "a\\x1b[2Jb\\x0dc\\x07\\x9b"
    assert printable("evil\u202egnp.exe") == "evil\\u202egnp.exe"  # right-to-left override
    assert printable("back\\x1b") == "back\\\\x1b"  # text that looks escaped stays apart
    assert printable("café ✓") == "café ✓"


def test_bytes_that_are_not_utf8_are_shown_as_hex() -> None:
    assert printable_bytes(b"ok\xff\x1b]0;owned\x07") == "ok\\xff\\x1b]0;owned\\x07"
    assert printable_bytes(None) == "(none)"


def test_show_writes_no_escape_sequence_from_the_message_to_the_terminal() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=False, width=200)
    hostile = b'{"x": "\x1b]0;owned\x07\x1b[2J"}'
    letter = Stored(
        1, "order.created", 0, 5, b"\x1b[31mkey", hostile, "not JSON: \x1b[8m", datetime.now(UTC)
    )
    _print_one(console, letter)
    text = out.getvalue()
    assert "\x1b" not in text and "\x07" not in text
    assert "\\x1b]0;owned\\x07" in text and "\\x1b[31mkey" in text
