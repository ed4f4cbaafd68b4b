"""Shared checks for the attrs configurations that runs save as ``config.json`` (search, train)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import attrs

C = TypeVar("C")


def reject_invalid(config: Any, checks: Mapping[str, bool], error: type[Exception], what: str) -> None:
    """Raise ``error`` naming every field whose check failed, with its value."""
    bad = [name for name, ok in checks.items() if not ok]
    if bad:
        values = ", ".join(f"{name}={getattr(config, name)!r}" for name in bad)
        raise error(f"invalid {what}: {values}")


def read_json_file(path: Path, error: type[Exception], what: str = "JSON file") -> Any:
    """Parse ``path`` as JSON, or raise ``error`` with one line naming it: unreadable, not UTF-8, not JSON,
    nested too deeply or holding an integer too long to convert."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not a {what} (not UTF-8 text at byte {exc.start})") from exc
    except OSError as exc:
        raise error(f"{path}: cannot read it ({exc.strerror or exc})") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(f"{path}: invalid JSON at line {exc.lineno}: {exc.msg}") from exc
    except RecursionError as exc:
        raise error(f"{path}: not a {what} (nested too deeply)") from exc
    except ValueError as exc:  # an integer literal beyond Python's digit limit
        raise error(f"{path}: not a {what} ({exc})") from exc


def config_from_json(cls: type[C], data: Any, source: str, error: type[Exception]) -> C:
    """Build ``cls`` from a saved JSON object; unknown keys and wrong types name ``source``."""
    if not isinstance(data, dict):
        raise error(f"{source}: expected a JSON object")
    known = {field.name for field in attrs.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise error(f"{source}: unknown configuration keys: {', '.join(unknown)}")
    try:
        return cls(**data)
    except TypeError as exc:
        raise error(f"{source}: {exc}") from exc
