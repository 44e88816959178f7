"""What a deploy file gives a container, checked against the settings the code reads."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from config.settings import ConfigurationError, Settings, load_settings

PREFIX = "CQRSW_"
_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?[-?]([^}]*))?\}")


def unknown_settings(env: Mapping[str, str]) -> list[str]:
    """``CQRSW_*`` names that no field of ``Settings`` reads (a typo, or a removed setting)."""
    known = {PREFIX + name.upper() for name in Settings.model_fields}
    return sorted(name for name in env if name.startswith(PREFIX) and name not in known)


def missing_required(env: Mapping[str, str]) -> list[str]:
    """Settings without a default that ``env`` does not give."""
    return sorted(
        PREFIX + name.upper()
        for name, field in Settings.model_fields.items()
        if field.is_required() and PREFIX + name.upper() not in env
    )


def settings_from(env: Mapping[str, str]) -> Settings:
    """The settings a container with exactly ``env`` builds; ConfigurationError if it cannot."""
    given = {k.removeprefix(PREFIX).lower(): v for k, v in env.items() if k.startswith(PREFIX)}
    return load_settings(_env_file=None, **given)


def check(env: Mapping[str, str]) -> list[str]:
    """Every problem a container with this environment would have at start-up."""
    problems = [f"{name} is not a setting the code reads" for name in unknown_settings(env)]
    problems += [f"{name} has no default and is not given" for name in missing_required(env)]
    if not problems:
        try:
            settings_from(env)
        except ConfigurationError as exc:
            problems.append(str(exc))
    return problems


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY=value`` lines as docker compose reads them (comments and blank lines skipped)."""
    env = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key.strip()] = value.strip()
    return env


def interpolate(text: str, variables: Mapping[str, str]) -> str:
    """Compose's ``${VAR}``, ``${VAR:-default}`` and ``${VAR:?error}``; unset ``:?`` fails."""

    def value(match: re.Match[str]) -> str:
        name, rest = match.group(1), match.group(2)
        if name in variables and variables[name] != "":
            return variables[name]
        if "?" in match.group(0).split(name, 1)[1][:2]:
            raise KeyError(f"{name} must be set: {rest}")
        return rest or ""

    return _REFERENCE.sub(value, text.replace("$$", "\0")).replace("\0", "$")
