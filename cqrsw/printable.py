"""Bytes from outside shown on a terminal: every control character visible, none obeyed."""

from __future__ import annotations

import unicodedata


def _visible(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that is not UTF-8 (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def printable(text: str) -> str:
    """``text`` with control and format characters (ESC, CR, bidi overrides...) escaped.

    A message on a topic is anyone's bytes: printed raw, an escape sequence could rewrite
    the operator's screen or title, or hide part of the line. A backslash is doubled, so an
    escape shown is never confused with the text ``\\x1b``.
    """
    out = []
    for char in text:
        if char == "\\":
            out.append("\\\\")
        elif unicodedata.category(char) in ("Cc", "Cf", "Cs", "Zl", "Zp"):
            out.append(_visible(char))
        else:
            out.append(char)
    return "".join(out)


def printable_bytes(raw: bytes | None) -> str:
    """Message bytes as one printable line: UTF-8 where valid, ``\\xNN`` where not."""
    if raw is None:
        return "(none)"
    return printable(raw.decode("utf-8", "surrogateescape"))
