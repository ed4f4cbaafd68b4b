"""CPU threads and the record of what a run ran on (threads, versions, device) kept in ``config.json``.

torch's default is one thread per core; on a shared or small machine that makes
small CPU runs several times slower (docs/cli.md, "CPU threads", has the measurement), so
runs default to a small count. The thread count changes floating-point
summation order, so a resume uses the count the run was started with unless told
otherwise, and says when it differs (the result is then not bit for bit). It is
not part of a run's identity: a different count never makes a resume refuse.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Iterable, Mapping
from importlib import metadata
from typing import Any

import torch

from nasplug.core.errors import NasplugError

ENVIRONMENT_KEY = "environment"
MAX_DEFAULT_THREADS = 1  # measured: docs/cli.md, "CPU threads"
THREADS_PER_CORE_LIMIT = 4
"""A thread count above this many per available core is refused: past the cores threads only wait (a
warning), and a count like 10⁶ would have torch start a million threads."""


class ThreadsError(NasplugError, ValueError):
    """A thread count that is not a positive integer, or far more than the cores."""


def available_cores() -> int:
    """The CPUs this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_threads() -> int:
    """The threads a run uses unless told: the CPUs this process may use, capped at MAX_DEFAULT_THREADS."""
    return max(1, min(available_cores(), MAX_DEFAULT_THREADS))


def oversubscription(threads: int) -> str | None:
    """A warning where ``threads`` exceeds the cores this process may use (threads then wait on one another:
    a run gets slower, not faster), else None."""
    cores = available_cores()
    if threads <= cores:
        return None
    return (f"{threads} threads on {cores} available core(s): the threads wait on one another and the run is "
            f"slower, not faster; --threads {cores} or fewer is faster")


def check_threads(count: Any) -> None:
    """Raise ThreadsError unless ``count`` is a positive integer of at most THREADS_PER_CORE_LIMIT threads
    per available core."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise ThreadsError(f"the thread count must be a positive integer, got {count!r}")
    cores = available_cores()
    if count > THREADS_PER_CORE_LIMIT * cores:
        raise ThreadsError(f"{count} threads on {cores} available core(s) is refused (at most "
                           f"{THREADS_PER_CORE_LIMIT} per core); --threads {cores} or fewer is fastest")


def use_threads(threads: int | None) -> int:
    """Set torch's intra-op thread count (``None``: :func:`default_threads`) and return it."""
    count = default_threads() if threads is None else threads
    check_threads(count)
    torch.set_num_threads(count)
    return count


def environment_record(threads: int, device: torch.device, distributions: Iterable[str]) -> dict[str, Any]:
    """What a run ran on: threads, device, Python, torch and the versions of nasplug and its plugins."""
    versions = {}
    for name in ("nasplug", *distributions):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "unknown"
    return {
        "threads": threads,
        "device": str(device),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "versions": versions,
    }


def split_environment(data: Any) -> tuple[Any, Mapping[str, Any]]:
    """(the configuration, its environment record) of a loaded ``config.json`` (an old one has no record)."""
    if isinstance(data, dict) and isinstance(data.get(ENVIRONMENT_KEY), dict):
        rest = {key: value for key, value in data.items() if key != ENVIRONMENT_KEY}
        return rest, data[ENVIRONMENT_KEY]
    return data, {}


def resume_threads(recorded: Mapping[str, Any], asked: int | None) -> tuple[int | None, str | None]:
    """The thread count for a resume and a warning when it differs from the run's (None: none to give)."""
    before = recorded.get("threads")
    if asked is None:
        return (before if isinstance(before, int) and before >= 1 else None), None
    if isinstance(before, int) and before != asked:
        return asked, (f"the run was started with {before} thread(s), this resume uses {asked}: it "
                       f"continues, but not bit for bit as the uninterrupted run")
    return asked, None


def describe(record: Mapping[str, Any]) -> str:
    """One line for the start of a run."""
    return (f"threads {record['threads']}, device {record['device']}, torch {record['torch']}, "
            f"nasplug {record['versions'].get('nasplug', 'unknown')}")


def start_threads(asked: int | None, recorded: Mapping[str, Any] | None) -> tuple[int, str | None]:
    """Set torch's threads for a run and return them with a warning or None.

    ``recorded`` is the environment record of the run being resumed (None for a fresh run): a
    resume takes the run's own count unless ``asked``, and warns where ``asked`` differs from it.
    """
    warning = None
    if recorded is not None:
        asked, warning = resume_threads(recorded, asked)
    count = use_threads(asked)
    warnings = [text for text in (warning, oversubscription(count)) if text]
    return count, "; ".join(warnings) or None
