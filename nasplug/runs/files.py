"""The files of a run: written whole and atomically, read back with one-line errors.

A kill at any moment leaves the old file or the new one. The content goes to a temporary file beside the target (``.NAME.*.tmp``, which a resume deletes), is
fsynced, renamed over the target and the folder fsynced: never a torn file.
"""

from __future__ import annotations

import errno
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import IO, Any

from nasplug.core.errors import NasplugError
from nasplug.core.schema import SchemaError, check_plain

TEMPORARY_NAME = re.compile(r"^\.[^.].*\.[A-Za-z0-9_]+\.tmp$")
"""The name of :func:`atomic_write`'s temporary file (``.NAME.XXXXXXXX.tmp``, mkstemp's random part):
what a resume may delete from a run folder and its ``checkpoints/``; a user's ``draft.tmp`` never matches."""


class WriteError(NasplugError, OSError):
    """A file could not be written (a full disk, no permission, a name too long, a path under a file).

    ``errno`` is the operating system's; the file that was being replaced is untouched.
    """


def atomic_write(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Call ``write`` on a temporary file beside ``path``, then atomically replace ``path``.

    An OSError on the way (ENOSPC, EACCES, ENAMETOOLONG, ENOTDIR, ...) becomes a WriteError naming
    ``path`` and the reason; the old file, if any, stays as it was.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise _write_error(path, exc) from exc
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; results get the mode open() would give
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except OSError as exc:
        Path(tmp_name).unlink(missing_ok=True)
        raise _write_error(path, exc) from exc
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def refuse_overwrite(path: Path, force: bool, *, out: str = "--out", replace: str = "--force") -> None:
    """Refuse to write ``path`` where something is already there, unless ``force``; never over a folder.

    ``out`` and ``replace`` name the caller's ways to pick another file and to replace this one.
    """
    path = Path(path)
    try:
        taken = path.exists() or path.is_symlink()
        folder = path.is_dir()
    except OSError as exc:  # a name too long, a loop of links
        raise _write_error(path, exc) from exc
    if folder:
        raise WriteError(f"{path} is a folder; give {out} a file name")
    if taken and not force:
        raise WriteError(f"{path} exists; choose another {out} or pass {replace} to replace it")


def _write_error(path: Path, exc: OSError) -> WriteError:
    if isinstance(exc, WriteError):
        return exc
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        reason = f"{exc.strerror}: the disk is full or the file too large"
    elif isinstance(exc, (FileExistsError, NotADirectoryError)):
        reason = "a part of its path is a file, not a folder"
    else:
        reason = exc.strerror or str(exc)
    error = WriteError(f"cannot write {path}: {reason}")
    error.errno = exc.errno
    return error


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


MAX_READ_BYTES = 64 * 2**20
"""The largest text file nasplug reads (64 MiB; a 1,000-epoch history is a few MB): a larger one is
refused before it is parsed, whose Python objects would take many times its size in memory."""


def read_text_file(path: Path, error: type[Exception], what: str) -> str:
    """``path``'s UTF-8 text, or ``error`` with one line naming it: unreadable, larger than
    :data:`MAX_READ_BYTES` or not UTF-8."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_READ_BYTES + 1)
    except OSError as exc:
        raise error(f"{path}: cannot read it ({exc.strerror or exc})") from exc
    if len(data) > MAX_READ_BYTES:
        raise error(f"{path}: too large for a {what} (over {MAX_READ_BYTES // 2**20} MiB)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not a {what} (not UTF-8 text at byte {exc.start})") from exc


def read_json_file(path: Path, error: type[Exception], what: str = "JSON file") -> Any:
    """Parse ``path`` as JSON, or raise ``error`` with one line naming it: unreadable, too large, not UTF-8,
    not JSON, nested too deeply or holding an integer too long to convert."""
    return parse_json(read_text_file(path, error, what), path, error, what)


def parse_json(text: str, where: object, error: type[Exception], what: str) -> Any:
    """``text`` as JSON checked to be plain and finite (nasplug.core.schema), or ``error`` naming ``where``."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(f"{where}: invalid JSON at line {exc.lineno}: {exc.msg}") from exc
    except RecursionError as exc:
        raise error(f"{where}: not a {what} (nested too deeply)") from exc
    except ValueError as exc:  # an integer literal beyond Python's digit limit
        raise error(f"{where}: not a {what} ({exc})") from exc
    try:
        check_plain(value, str(where))
    except SchemaError as exc:
        raise error(str(exc)) from exc
    return value


def read_json_lines(path: Path, error: type[Exception], what: str = "JSON-lines file") -> list[dict[str, Any]]:
    """The records of a JSON-lines file (``history.jsonl``, ``metrics.jsonl``): each line a plain, finite JSON
    object; anything else raises ``error`` naming the file and the line."""
    text = read_text_file(path, error, what)
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        record = parse_json(line, f"{path} line {number}", error, what)
        if not isinstance(record, dict):
            raise error(f"{path} line {number}: not a {what} (a {type(record).__name__}, not an object)")
        records.append(record)
    return records
