"""Epoch checkpoints: written atomically into a run's ``checkpoints/``, rotated, verified, loaded safely.

A run killed at any moment leaves either the previous checkpoint or the new one,
never a torn file (nasplug.runs.files). Each file starts with a one-line header holding the SHA-256
and length of the ``torch.save`` payload after it; loading checks both before unpickling anything, so
a flipped byte or a truncated copy is refused, never used. Loading uses ``weights_only=True``: a
checkpoint holds tensors and plain values only, never pickled code.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import re
import shlex
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

import torch

from nasplug.core.errors import CheckpointError
from nasplug.core.schema import SchemaError, check_plain
from nasplug.runs.files import WriteError, atomic_write
from nasplug.runs.random_state import capture_random_state, restore_random_state

CHECKPOINT_DIR = "checkpoints"
_HEADER = re.compile(rb"NASPLUG-CHECKPOINT-1 sha256=([0-9a-f]{64}) bytes=([0-9]{15})\n")
"""The first line of a checkpoint (fixed length): the SHA-256 and byte count of the payload after it."""
_HEADER_LENGTH = len("NASPLUG-CHECKPOINT-1 sha256= bytes=\n") + 64 + 15
_LEGACY_MAGIC = b"PK\x03\x04"  # torch.save's zip, as nasplug wrote checkpoints before the header


def _header(digest: str, length: int) -> bytes:
    return f"NASPLUG-CHECKPOINT-1 sha256={digest} bytes={length:015d}\n".encode()


class _HashingWriter:
    """A write-only file for ``torch.save`` that passes bytes on while hashing and counting them."""

    def __init__(self, handle: IO[bytes]) -> None:
        self.handle = handle
        self.sha256 = hashlib.sha256()
        self.length = 0
        self.failure: OSError | None = None

    def write(self, data: bytes) -> int:
        self.sha256.update(data)
        self.length += len(data)
        try:
            return self.handle.write(data)
        except OSError as exc:  # torch's zip writer reports it as a RuntimeError; keep the real reason
            self.failure = exc
            raise

    def flush(self) -> None:
        self.handle.flush()


def save_checkpoint(path: Path, state: dict[str, Any]) -> None:
    """Write ``state`` with ``torch.save`` behind the header that lets :func:`load_checkpoint` verify it.

    The payload streams to the file while it is hashed; the header, reserved first, is filled in last.
    """

    def write(handle: IO[bytes]) -> None:
        handle.write(b"\0" * _HEADER_LENGTH)
        writer = _HashingWriter(handle)
        try:
            torch.save(state, writer)
        except RuntimeError:
            if writer.failure is not None:  # a full disk: say so, not "unexpected pos"
                raise writer.failure from None
            raise
        handle.seek(0)
        handle.write(_header(writer.sha256.hexdigest(), writer.length))
        handle.seek(0, io.SEEK_END)

    atomic_write(path, write)


def verified_payload(path: Path, head: bytes, payload: bytes) -> bytes:
    """The ``torch.save`` bytes of a checkpoint file, after checking length and SHA-256: ``head`` is its
    first header-length bytes, ``payload`` the rest (read apart, so the payload is never copied).

    A file from before the header (a bare ``torch.save`` zip) is returned whole: its fields are still
    checked when a run restores it.
    """
    if head.startswith(_LEGACY_MAGIC):
        return head + payload
    header = _HEADER.fullmatch(head)
    if header is None:
        raise CheckpointError(f"{path}: not a readable nasplug checkpoint (no checksum header)")
    if len(payload) != int(header.group(2)):
        raise CheckpointError(f"{path}: damaged: {len(payload)} bytes of payload where its header says "
                              f"{int(header.group(2))} (truncated or appended to)")
    if hashlib.sha256(payload).hexdigest() != header.group(1).decode():
        raise CheckpointError(f"{path}: damaged: its SHA-256 does not match the one written with it")
    return payload


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


def check_progress(state: Mapping[str, Any], epochs: int, records: str,
                   check_record: Callable[[Mapping[str, Any], int, str], None] | None = None) -> int:
    """The checkpoint's epoch, once it is consistent with the run: an integer from 1 to ``epochs``, and
    ``state[records]`` (the history or metrics) a list of exactly that many plain, finite records, the
    i-th for epoch i, each passing ``check_record(record, epoch, where)`` where given (the validator of
    the file the records are written to). A CheckpointError says which field is wrong."""
    epoch = state.get("epoch")
    if not isinstance(epoch, int) or isinstance(epoch, bool) or not 1 <= epoch <= epochs:
        raise CheckpointError(f"damaged: its epoch {epoch!r} is not one of this run's 1-{epochs}")
    listed = state.get(records)
    if not isinstance(listed, list) or len(listed) != epoch:
        found = f"{len(listed)} records" if isinstance(listed, list) else f"a {type(listed).__name__}"
        raise CheckpointError(f"damaged: its {records!r} holds {found}, not the {epoch} of epochs 1-{epoch}")
    for number, record in enumerate(listed, start=1):
        if not isinstance(record, dict) or record.get("epoch") != number:
            raise CheckpointError(f"damaged: {records}[{number - 1}] is not the record of epoch {number}")
        try:
            check_plain(record, f"{records}[{number - 1}]")
            if check_record is not None:
                check_record(record, number, f"{records}[{number - 1}]")
        except SchemaError as exc:
            raise CheckpointError(f"damaged: {exc}") from exc
    return epoch


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


@contextlib.contextmanager
def explained_write_failures(folder: Path, command: str) -> Iterator[None]:
    """Turn a failed write of the run in ``folder`` (a full disk, above all) into one line that says what
    happened, which checkpoint is the last good one and how to continue with ``nasplug COMMAND``."""
    try:
        yield
    except WriteError as exc:
        kept = checkpoint_paths(folder)
        last = f"the last good checkpoint is {kept[-1]}" if kept else "no checkpoint had been written yet"
        if (Path(folder) / "config.json").is_file():
            how = f"nasplug {command} --resume {shlex.quote(str(folder))}"
        else:
            how = "the same command"
        error = WriteError(f"{exc}; {last}; free space (or fix the cause), then continue with {how}")
        error.errno = exc.errno
        raise error from exc


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
        with open(path, "rb", buffering=0) as handle:  # unbuffered: readall sizes its bytes once
            head, rest = handle.read(_HEADER_LENGTH), handle.readall()
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read it ({exc.strerror or exc})") from exc
    payload = verified_payload(path, head, rest)
    try:
        state = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
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
