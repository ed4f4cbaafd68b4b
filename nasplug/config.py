"""Shared checks for the attrs configurations that runs save as ``config.json`` (search, train)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import attrs

C = TypeVar("C")


def reject_invalid(config: Any, checks: Mapping[str, bool], error: type[Exception], what: str) -> None:
    """Raise ``error`` naming every field whose check failed, with its value."""
    bad = [name for name, ok in checks.items() if not ok]
    if bad:
        values = ", ".join(f"{name}={getattr(config, name)!r}" for name in bad)
        raise error(f"invalid {what}: {values}")


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
