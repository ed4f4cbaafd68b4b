"""Output folders of runs: a fresh default name, and the refusal to write into a used one."""

from __future__ import annotations

import datetime
import errno
import os
import re
from pathlib import Path

from nasplug.core.errors import NasplugError
from nasplug.runs.checkpoint import CHECKPOINT_DIR
from nasplug.runs.lock import contents, remove_temporary_files


def default_run_dir(space: str, controller: str) -> Path:
    """``runs/<date>-<time to the µs>-<pid>-<space>-<controller>``: two processes never pick one folder.

    A controller named ``module:Class`` keeps ``Class``; plugin-provided names are reduced to safe
    characters so that none can point outside ``runs/``.
    """
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    name = controller.rpartition(":")[2]
    return Path("runs") / f"{stamp}-{os.getpid()}-{_path_safe(space)}-{_path_safe(name)}"


def _path_safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_+-]+", "_", name).strip("_") or "unnamed"


def fresh_output_dir(path: Path, *, out: str = "--out", resume: str | None = "--resume {path}") -> Path:
    """Refuse a file or a non-empty directory: results of an earlier run are never overwritten.

    ``out`` and ``resume`` (a template of ``{path}``, None where the folder cannot be continued) name
    the caller's ways to choose another folder and to continue this one: the CLI's options, or the
    Python API's.
    """
    refuse_unnamable(path, NasplugError, out)
    if path.exists() and not path.is_dir():
        raise NasplugError(f"{path} is a file, not a folder; choose another {out}")
    if contents(path):
        hint = f" or continue it with {resume.format(path=path)}" if resume else ""
        raise NasplugError(f"{path} exists and is not empty; choose another {out}{hint}")
    return path


def refuse_unnamable(path: Path, error: type[Exception], out: str = "--out") -> None:
    """Raise ``error`` where the system cannot even look ``path`` up (a name too long, a loop of links).

    ``os.stat`` rather than ``Path.exists``, which newer Pythons make return False on any OSError. A path
    that is absent, or under a file, is left to the caller's own message.
    """
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return
        raise error(f"{path}: cannot use it as a folder ({exc.strerror or exc}); choose another {out}") from exc


def claim_folder(folder: Path, *, resume: bool, error: type[Exception], choose: str) -> None:
    """Under the run's lock: a fresh run needs ``folder`` empty; a resumed one loses the temporary files
    an interrupted atomic write left. ``choose`` names what the user picks instead ("folder")."""
    if not resume:
        if contents(folder):
            raise error(f"{folder} exists and is not empty; choose another {choose} or resume it")
        remove_temporary_files([folder, folder / CHECKPOINT_DIR])  # a start killed before its first result
        return
    remove_temporary_files([folder, folder / CHECKPOINT_DIR])
