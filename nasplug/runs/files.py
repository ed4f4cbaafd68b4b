"""The files of a run: written whole and atomically, read back with one-line errors.

A kill at any moment leaves the old file or the new one. The content goes to a temporary file beside the target (``.NAME.*.tmp``, which a resume deletes), is
fsynced, renamed over the target and the folder fsynced: never a torn file.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import IO, Any


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


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (results and genotypes are never half-written)."""
    text = json.dumps(data, indent=2, sort_keys=False) + "\n"
    atomic_write(path, lambda handle: handle.write(text.encode()))


def write_jsonl(path: Path, records: Iterable[Mapping[str, Any]]) -> None:
    """Rewrite a JSON-lines file (``history.jsonl``, ``metrics.jsonl``) atomically, one record a line.

    ``allow_nan=False``: a NaN is never written as the bare ``NaN`` that is not JSON (runs stop on
    divergence before they record one).
    """
    text = "".join(json.dumps(record, allow_nan=False) + "\n" for record in records)
    atomic_write(path, lambda handle: handle.write(text.encode()))


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
