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
import fcntl
import json
import os
import shlex
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

from nasplug.core.errors import NasplugError

LOCK_FILE = ".nasplug.lock"
TEMPORARY_SUFFIX = ".tmp"


class RunLockedError(NasplugError, RuntimeError):
    """Another live process holds the run folder; the message names it."""


class RunFolderError(NasplugError, OSError):
    """The run folder cannot be created or opened (under a file, on a read-only or special file system)."""


def make_run_folder(folder: Path) -> None:
    """Create ``folder`` (and its parents), or raise RunFolderError naming it and the reason."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError as exc:
        raise RunFolderError(f"{folder}: cannot create the run folder: {exc.filename} is a file") from exc
    except OSError as exc:
        raise RunFolderError(f"{folder}: cannot create the run folder ({exc.strerror or exc})") from exc


def contents(folder: Path) -> list[Path]:
    """What ``folder`` holds besides the lock file (empty when the folder does not exist)."""
    if not folder.is_dir():
        return []
    return sorted(path for path in folder.iterdir() if path.name != LOCK_FILE)


def remove_temporary_files(folder: Path) -> list[Path]:
    """Delete the ``*.tmp`` files an interrupted atomic write left in ``folder`` (call under the lock)."""
    stray = [path for path in folder.rglob(f"*{TEMPORARY_SUFFIX}") if path.is_file()]
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
    process's arguments go into the message another process prints. A folder
    this call created and that is still empty at the end (a run refused before
    writing anything) is removed again, so a failed start leaves nothing behind.
    """
    folder = Path(folder)
    created = not folder.exists()
    make_run_folder(folder)
    fd = _acquire(folder / LOCK_FILE, folder)
    try:
        me = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "command": command,
            "argv": shlex.join(sys.argv),
            "started": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(me).encode(), 0)
        yield
    finally:
        if created and not contents(folder):
            # Unlinked while still locked: a process that opened the old file sees it is gone and retries.
            (folder / LOCK_FILE).unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                folder.rmdir()
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _acquire(path: Path, folder: Path) -> int:
    """Open and lock ``path``, again if the holder removed it meanwhile (the lock must be on the live file)."""
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            reason = exc.strerror or exc
            raise RunFolderError(f"{path}: cannot open the run folder's lock ({reason})") from exc
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
