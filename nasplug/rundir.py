"""Output folders of runs: a fresh default name, and the refusal to write into a used one."""

from __future__ import annotations

import datetime
from pathlib import Path

from nasplug.errors import NasplugError


def default_run_dir(space: str, controller: str) -> Path:
    """``runs/<date>-<time>-<space>-<controller>`` (a controller named ``module:Class`` keeps ``Class``)."""
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{stamp}-{space}-{controller.rpartition(':')[2]}"


def fresh_output_dir(path: Path, *, out: str = "--out", resume: str = "--resume {path}") -> Path:
    """Refuse a non-empty directory: results of an earlier run are never overwritten.

    ``out`` and ``resume`` (a template of ``{path}``) name the caller's ways to choose another
    folder and to continue this one: the CLI's options, or the Python API's.
    """
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise NasplugError(f"{path} exists and is not empty; choose another {out} or continue it with "
                           f"{resume.format(path=path)}")
    return path
