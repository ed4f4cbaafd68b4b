"""Loggers: observer plugins a run switches on with ``--logger csv,tensorboard``.

A logger is an object implementing the observer hooks (``epoch_finished`` for a
search, ``train_epoch_finished`` for ``nasplug train``), registered for that run
only. ``csv`` and ``tensorboard`` ship with nasplug; other distributions add
theirs to the ``nasplug.loggers`` entry-point group (docs/loggers.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
import importlib
from importlib import metadata
from typing import Any

from nasplug.plugin.manager import Hooks, PluginError

LOGGER_GROUP = "nasplug.loggers"
BUILTIN_LOGGERS = {
    "csv": "nasplug.loggers.csv:CsvLogger",
    "tensorboard": "nasplug.loggers.tensorboard:TensorBoardLogger",
}


def available_loggers() -> dict[str, str]:
    """Logger name → ``module:attribute`` of the class, built-ins first, then the entry points."""
    found = dict(BUILTIN_LOGGERS)
    for entry_point in metadata.entry_points(group=LOGGER_GROUP):
        found.setdefault(entry_point.name, entry_point.value)
    return found


def parse_logger_names(text: str | Sequence[str] | None) -> list[str]:
    """``"csv,tensorboard"`` (or several such strings) → known logger names, in order, each once."""
    if not text:
        return []
    parts = [text] if isinstance(text, str) else list(text)
    names = [name.strip() for part in parts for name in part.split(",") if name.strip()]
    known = available_loggers()
    unknown = [name for name in names if name not in known]
    if unknown:
        raise PluginError(f"unknown logger {unknown[0]!r}; available: {', '.join(sorted(known))}")
    return list(dict.fromkeys(names))


def _load(name: str, target: str) -> Callable[[], Any]:
    module_name, _, attribute = target.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attribute)
    except Exception as exc:  # a third-party logger's import failure
        reason = f"{type(exc).__name__}: {exc}"
        raise PluginError(f"logger {name!r} ({target}) failed to import: {reason}") from exc


def add_loggers(hooks: Hooks, names: Sequence[str]) -> None:
    """Create each named logger and register it on ``hooks`` for this run."""
    for name in names:
        logger = _load(name, available_loggers()[name])()
        hooks.add_observer(logger, f"logger:{name}")
