"""Loggers: observer plugins a run switches on with ``--logger csv,tensorboard``.

A logger is an object implementing the observer hooks (``epoch_finished`` for a
search, ``train_epoch_finished`` for ``nasplug train``), registered for that run
only. ``csv`` and ``tensorboard`` ship with nasplug; other distributions add
theirs to the ``nasplug.loggers`` entry-point group (docs/loggers.md), found like every other
group by :mod:`nasplug.plugin.discovery` and looked up through the run's ``Hooks``.
"""

from __future__ import annotations

from collections.abc import Sequence

from nasplug.plugin import Hooks, PluginError, describe, guard_plugin


def parse_logger_names(text: str | Sequence[str] | None, hooks: Hooks) -> list[str]:
    """``"csv,tensorboard"`` (or several such strings) → known logger names, in order, each once."""
    if not text:
        return []
    parts = [text] if isinstance(text, str) else list(text)
    names = [name.strip() for part in parts for name in part.split(",") if name.strip()]
    known = hooks.loggers()
    unknown = [name for name in names if name not in known]
    if unknown:
        raise PluginError(f"unknown logger {unknown[0]!r}; available: {', '.join(sorted(known))}")
    return list(dict.fromkeys(names))


def add_loggers(hooks: Hooks, names: Sequence[str]) -> None:
    """Create each named logger and register it on ``hooks`` for this run.

    A name several distributions claim, a logger that fails to import or to start is a
    PluginError naming it and its distribution.
    """
    for name in names:
        entry = hooks.logger_entry(name)
        logger_class = entry.load()
        logger = guard_plugin(describe(entry.provider, "logger"), "__init__", logger_class)
        hooks.add_plugin(logger, f"logger:{name}", entry.provider)
