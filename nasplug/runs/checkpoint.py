"""Atomic checkpoint files: write to a temporary file, fsync, rename, fsync the folder.

A run killed at any moment leaves either the previous checkpoint or the new one,
never a torn file. Loading uses ``weights_only=True``: a checkpoint holds tensors
and plain values only, never pickled code.
"""

from __future__ import annotations

import io
import json
import os
import re
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

import torch

from nasplug.core.errors import NasplugError


class CheckpointError(NasplugError, RuntimeError):
    """A checkpoint is missing, truncated or not one of ours; the message names the file."""


def atomic_write(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Call ``write`` on a temporary file beside ``path``, then atomically replace ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; results get the mode open() would give
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _umask() -> int:
    current = os.umask(0o022)
    os.umask(current)
    return current


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # some platforms cannot open folders; the rename is still atomic
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    atomic_write(path, lambda handle: torch.save(state, handle))


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


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (results and genotypes are never half-written)."""
    text = json.dumps(data, indent=2, sort_keys=False) + "\n"
    atomic_write(path, lambda handle: handle.write(text.encode()))
