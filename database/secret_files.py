"""Passwords kept as files: one per name, in a folder only its owner can read (0700 / 0600)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def ensure_secret(folder: Path, name: str) -> str:
    """The password in ``folder/name``, generated (and written 0600) the first time."""
    path = folder / name
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    value = secrets.token_urlsafe(32)
    try:
        # O_EXCL: two processes starting at once keep the first one's password.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as file:
        file.write(value + "\n")
    return value
