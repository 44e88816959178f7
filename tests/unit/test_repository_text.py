"""The repository speaks of itself: no text points at what its users cannot see.

Issue-tracker numbers, branch names, working-copy layouts and folders outside the checkout
mean nothing to someone who cloned the project; history belongs in git log and dates.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SKIPPED_DIRS = {
    ".git", ".venv", ".cqrsw", "target", "logs", "dbt_packages", "__pycache__",
    ".mypy_cache", ".ruff_cache", ".pytest_cache", ".hypothesis", "build",
}  # fmt: skip
TEXT_SUFFIXES = {
    ".py", ".md", ".sql", ".yml", ".yaml", ".toml", ".json", ".txt", ".cfg", ".ini", ".conf",
    ".sh", ".j2", ".html", "",
}  # fmt: skip
# Built from parts so that this file does not match itself.
OUTSIDE_REFERENCES = re.compile(
    "|".join(
        [
            r"\.\./" + "shared",
            r"\b" + "issue" + r"s? ?#?[0-9]+",
            r"\b" + "branch" + r" `",
            "work" + "tree",
        ]
    ),
    re.IGNORECASE,
)


def repository_text_files() -> list[Path]:
    files = []
    for directory, subdirectories, names in os.walk(ROOT):
        subdirectories[:] = [
            name
            for name in subdirectories
            if name not in SKIPPED_DIRS and not name.endswith(".egg-info")
        ]
        for name in names:
            path = Path(directory, name)
            if path.suffix in TEXT_SUFFIXES and not name.startswith("."):
                files.append(path)
    return files


def outside_references(text: str) -> list[str]:
    return [match.group(0) for match in OUTSIDE_REFERENCES.finditer(text)]


def test_the_pattern_catches_what_it_is_for() -> None:
    tracker_number = "is" + "sue 17"
    outside_folder = "../" + "shared"
    sample = f"see {tracker_number} and {outside_folder}/DESIGN.md"
    assert outside_references(sample) == [tracker_number, outside_folder]
    assert outside_references("measured on 2026-11-28 (median of three runs)") == []


def test_no_file_refers_to_issues_branches_or_folders_outside_the_repository() -> None:
    found = []
    for path in repository_text_files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for line_number, line in enumerate(text.splitlines(), start=1):
            for reference in outside_references(line):
                found.append(f"{path.relative_to(ROOT)}:{line_number}: {reference}")
    assert found == []
