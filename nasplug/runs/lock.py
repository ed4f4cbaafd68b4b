"""One process per run folder: an exclusive OS lock held for the life of ``run``, ``train`` and ``ranking``.

The lock is ``fcntl.flock`` on a file inside the folder, so the kernel releases
it when the holder exits or dies (SIGKILL included); nothing stale is ever left
to clean up. The holder writes who it is (pid, host, command, start time) into
the file so that a second process can say whom it is waiting for, and exits at
once instead of waiting.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import fcntl
import json
import os
import shlex
import socket
import stat
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

from nasplug.core.errors import NasplugError
from nasplug.runs.files import TEMPORARY_NAME

LOCK_FILE = ".nasplug.lock"


class RunLockedError(NasplugError, RuntimeError):
    """Another live process holds the run folder; the message names it."""


class RunFolderError(NasplugError, OSError):
    """The run folder cannot be created or opened (under a file, on a read-only or special file system)."""


def make_run_folder(folder: Path) -> list[Path]:
    """Create ``folder`` (and its parents), or raise RunFolderError naming it and the reason.

    Returns the folders this call created, deepest first, so that a refused start can remove them again.
    """
    try:
        missing = [path for path in (folder, *folder.parents) if not path.exists()]
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as exc:
        raise RunFolderError(f"{folder}: cannot create the run folder: a part of its path is a file") from exc
    except OSError as exc:
        raise RunFolderError(f"{folder}: cannot create the run folder ({exc.strerror or exc})") from exc
    return missing


def contents(folder: Path) -> list[Path]:
    """What ``folder`` holds besides the lock file and the temporary files of interrupted atomic writes
    (empty when the folder does not exist): a folder a kill left before its first result counts as empty."""
    if not folder.is_dir():
        return []
    return sorted(path for path in folder.iterdir()
                  if path.name != LOCK_FILE and not _temporary(path))


def _temporary(path: Path) -> bool:
    return TEMPORARY_NAME.match(path.name) is not None and path.is_file() and not path.is_symlink()


def remove_temporary_files(folders: Iterable[Path]) -> list[Path]:
    """Delete the temporary files an interrupted atomic write left directly in ``folders`` (call under
    the lock): only names of the form ``.NAME.XXXXXXXX.tmp``, never a user's ``draft.tmp`` or a subfolder's."""
    stray = [path for folder in folders if folder.is_dir() for path in folder.iterdir() if _temporary(path)]
    for path in stray:
        path.unlink(missing_ok=True)
    return stray


def _holder(fd: int) -> str:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        data = json.loads(os.read(fd, 65536).decode() or "{}")
        return (f"{data['command']} (pid {data['pid']} on {data['host']}, started {data['started']}: "
                f"{data['argv']})")
    except (OSError, ValueError, KeyError, TypeError):
        return "a process that has not yet written its name"


@contextlib.contextmanager
def run_lock(folder: Path, command: str) -> Iterator[None]:
    """Hold ``folder``'s lock for the ``with`` block; RunLockedError at once if another process has it.

    ``command`` names what holds the lock (``nasplug run`` ...); it and the
    process's arguments go into the message another process prints. Folders
    this call created (``--out a/b/run`` creates up to three) and that are still
    empty at the end (a run refused before writing anything) are removed again,
    and so is a lock file it created in a folder it left as it found it (a
    ``--resume`` of a folder that is not a run): a failed start leaves nothing behind.
    """
    folder = Path(folder)
    created = make_run_folder(folder)
    lock_path = folder / LOCK_FILE
    lock_existed = lock_path.exists() or lock_path.is_symlink()
    found = contents(folder)
    fd = _acquire(lock_path, folder)
    try:
        me = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "command": command,
            "argv": shlex.join(sys.argv),
            "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        }
        _write_record(fd, lock_path, json.dumps(me).encode())
        yield
    finally:
        left = contents(folder)
        if (created and not left) or (not lock_existed and left == found):
            # Unlinked while still locked: a process that opened the old file sees it is gone and retries.
            lock_path.unlink(missing_ok=True)
            for path in created:  # deepest first; a folder that is not empty stays
                with contextlib.suppress(OSError):
                    path.rmdir()
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _write_record(fd: int, path: Path, record: bytes) -> None:
    """Write who holds the lock, or RunFolderError naming the lock file (a disk already full, a file-size
    limit): the first write of every run, so its failure must read like the others."""
    try:
        os.ftruncate(fd, 0)
        written = os.pwrite(fd, record, 0)
    except OSError as exc:
        full = exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
        reason = f"{exc.strerror}: the disk is full or the file too large" if full else exc.strerror or exc
        raise RunFolderError(f"{path}: cannot write the run folder's lock ({reason}); free space (or fix "
                             f"the cause), then start again with the same command") from exc
    if written != len(record):
        raise RunFolderError(f"{path}: cannot write the run folder's lock (only {written} of {len(record)} "
                             f"bytes written: the disk is full or the file too large)")


def _acquire(path: Path, folder: Path) -> int:
    """Open and lock ``path``, again if the holder removed it meanwhile (the lock must be on the live file)."""
    while True:
        try:  # never through a symbolic link, and a FIFO there must not block the open
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, 0o666)
        except OSError as exc:
            reason = "it is a symbolic link" if path.is_symlink() else exc.strerror or exc
            raise RunFolderError(f"{path}: cannot open the run folder's lock ({reason})") from exc
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise RunFolderError(f"{path}: cannot open the run folder's lock (not a regular file)")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            os.close(fd)
            raise RunLockedError(f"{folder} is in use by {holder}") from None
        try:
            live = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            live = False
        if live:
            return fd
        os.close(fd)
        make_run_folder(folder)
