"""Stopping a run whose numbers have become NaN or infinite, before it writes them anywhere.

Runs check the values they reduce anyway (a step's host-side feedback, an
epoch's means): no extra device synchronisation. A diverged epoch is never
checkpointed, so the last good checkpoint stays the newest and ``history.jsonl``
never holds a bare ``NaN`` (which is not JSON).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from nasplug.core.errors import NasplugError
from nasplug.runs.checkpoint import checkpoint_paths


class DivergenceError(NasplugError, ArithmeticError):
    """A loss, accuracy or probability became NaN or infinite; the message says where and what to change."""


def first_non_finite(value: Any, path: str = "") -> tuple[str, float] | None:
    """The key path and value of the first NaN or infinity in nested dicts and lists of numbers, or None."""
    if isinstance(value, float):
        return None if math.isfinite(value) else (path, value)
    items: list[tuple[str, Any]] = []
    if isinstance(value, Mapping):
        items = [(f"{path}.{key}" if path else str(key), item) for key, item in value.items()]
    elif isinstance(value, (list, tuple)):
        items = [(f"{path}[{index}]", item) for index, item in enumerate(value)]
    for item_path, item in items:
        found = first_non_finite(item, item_path)
        if found is not None:
            return found
    return None


def check_finite(values: Mapping[str, Any], where: str, advice: Callable[[], str]) -> None:
    """Raise DivergenceError naming ``where``, the first non-finite entry of ``values`` and ``advice()``.

    ``advice`` is called only on divergence (it may look at the disk; the check runs every step).
    """
    found = first_non_finite(values)
    if found is not None:
        key, value = found
        raise DivergenceError(f"{where}: {key} is {value} (the run diverged); {advice()}")


def divergence_advice(folder: Path, lr: float, controller: str | None = None) -> str:
    """What to change after a divergence, and which checkpoint of ``folder`` is the last good one."""
    kept = checkpoint_paths(folder)
    where = f"; the last good checkpoint, {kept[-1].name}, is kept" if kept else ""
    step_size = f" or the step size of controller {controller!r}" if controller is not None else ""
    return f"lower --lr (now {lr:g}){step_size}{where}"
