"""Ctrl-C while the ``nasplug`` command is still starting (importing torch takes its first seconds).

The command line turns Ctrl-C into one line once it runs (nasplug.cli); before that, Python would print
a KeyboardInterrupt traceback from deep inside an import. The package root calls
:func:`interrupted_while_starting` there: the command exits with the same one line and status 130,
while ``import nasplug`` in a script or notebook still raises KeyboardInterrupt as usual.
"""

from __future__ import annotations

import sys
from pathlib import Path


def started_as_command() -> bool:
    """True where this process is the ``nasplug`` command (its script, ``python -m nasplug``, torchrun's)."""
    argv = list(getattr(sys, "orig_argv", sys.argv))
    as_module = any(argv[i] == "-m" and argv[i + 1] == "nasplug" for i in range(len(argv) - 1))
    return as_module or Path(sys.argv[0]).name == "nasplug"


def interrupted_while_starting() -> None:
    """Exit with one line and status 130 when the command was interrupted while importing; else return."""
    if started_as_command():
        print("interrupted", file=sys.stderr)
        raise SystemExit(130)
