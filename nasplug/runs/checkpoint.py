"""Epoch checkpoints: written atomically into a run's ``checkpoints/``, rotated, loaded safely.

A run killed at any moment leaves either the previous checkpoint or the new one,
never a torn file (nasplug.runs.files). Loading uses ``weights_only=True``: a checkpoint holds tensors
and plain values only, never pickled code.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from nasplug.core.errors import CheckpointError
from nasplug.runs.files import atomic_write
from nasplug.runs.random_state import capture_random_state, restore_random_state

CHECKPOINT_DIR = "checkpoints"


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    atomic_write(path, lambda handle: torch.save(state, handle))


def optimisation_state(
    fmt: str, config: Mapping[str, Any], epoch: int, optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler, device: torch.device,
) -> dict[str, Any]:
    """What every run's checkpoint holds besides its weights and records: its format, configuration,
    epoch, optimiser and schedule, and the random state (nasplug.runs.random_state)."""
    return {
        "format": fmt,
        "config": dict(config),
        "epoch": epoch,
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "rng": capture_random_state(device),
    }


def restore_optimisation(
    state: Mapping[str, Any], optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler, device: torch.device,
) -> None:
    """Load :func:`optimisation_state`'s optimiser, schedule and random state back (KeyError if one is missing)."""
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    restore_random_state(state["rng"], device)


def checkpoint_paths(folder: Path) -> list[Path]:
    """The epoch checkpoints of the run in ``folder``, oldest first."""
    return sorted((Path(folder) / CHECKPOINT_DIR).glob("epoch-*.pt"))


def save_epoch_checkpoint(folder: Path, epoch: int, state: dict[str, Any], keep: int) -> None:
    """Write the checkpoint after ``epoch``, then delete all but the newest ``keep`` (0 keeps all)."""
    save_checkpoint(Path(folder) / CHECKPOINT_DIR / f"epoch-{epoch:04d}.pt", state)
    if keep:
        for old in checkpoint_paths(folder)[:-keep]:
            old.unlink()


def _loads_back(value: Any) -> bool:
    buffer = io.BytesIO()
    torch.save(value, buffer)
    buffer.seek(0)
    try:
        torch.load(buffer, weights_only=True)
    except Exception:  # torch's unpickler raises several types for what it refuses
        return False
    return True


def unloadable_part(value: Any, path: str = "") -> str | None:
    """Where in ``value`` is something ``torch.load(weights_only=True)`` refuses, or None if it all loads.

    The answer is a key path such as ``['buffer'][2]`` with the offending type,
    so a plugin author sees which entry of a ``state_dict`` to change.
    """
    if _loads_back(value):
        return None
    children: list[tuple[str, Any]] = []
    if isinstance(value, Mapping):
        children = [(f"{path}[{key!r}]", item) for key, item in value.items()]
    elif isinstance(value, (list, tuple)):
        children = [(f"{path}[{index}]", item) for index, item in enumerate(value)]
    for child_path, child in children:
        found = unloadable_part(child, child_path)
        if found is not None:
            return found
    return f"{path or 'the value'} (a {type(value).__module__}.{type(value).__qualname__})"


def check_loadable(state: Any, owner: str) -> None:
    """Raise CheckpointError naming ``owner`` and the entry of ``state`` a resume could never load."""
    found = unloadable_part(state)
    if found is not None:
        raise CheckpointError(
            f"{owner}: state_dict(){found} cannot be loaded back from a checkpoint (torch.load with "
            f"weights_only=True); keep tensors, numbers, strings, lists and dicts there"
        )


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint`, or raise CheckpointError naming it."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for truncated or foreign files
        raise CheckpointError(f"{path}: not a readable nasplug checkpoint ({_load_failure(exc)})") from exc
    if not isinstance(state, dict) or "format" not in state:
        raise CheckpointError(f"{path}: not a nasplug checkpoint (no 'format' entry)")
    return state


def _load_failure(exc: Exception) -> str:
    """torch's reason in a few words, never its advice to load with ``weights_only=False``."""
    text = str(exc)
    if "Weights only load failed" in text:
        forbidden = re.search(r"GLOBAL (\S+) was not an allowed global", text)
        if forbidden:
            return f"refused by the safe loader: it pickles {forbidden.group(1)}, not a tensor or plain value"
        detail = re.search(r"WeightsUnpickler error:\s*([^\n]+)", text)
        return f"refused by the safe loader: {detail.group(1).strip() if detail else 'unknown content'}"
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__
