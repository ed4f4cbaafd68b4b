"""Shared helpers of the reliability tests: the real CLI, tiny runs and folder snapshots."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from nasplug.cli import main

TINY = ["--space", "darts-cell", "--dataset", "digits", "--layers", "2", "--channels", "4"]
QUIET_ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def cli(*args: object):
    """The CLI in this process; any traceback would fail the test (catch_exceptions=False)."""
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def nasplug(*args: object, cwd: Path | None = None) -> subprocess.Popen:
    """The CLI in its own process (for locks and kills), output captured."""
    return subprocess.Popen([sys.executable, "-m", "nasplug", *map(str, args)], cwd=cwd, env=QUIET_ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def assert_one_line_error(result, *fragments: str) -> str:
    """Exit status 1 and a last line ``Error: ...`` holding every fragment, no traceback; returns the line."""
    output = result.output if hasattr(result, "output") else result
    assert getattr(result, "exit_code", 1) == 1, output
    lines = [line for line in output.strip().splitlines() if line.strip()]
    assert lines and lines[-1].startswith("Error: "), output
    assert "Traceback" not in output, output
    for fragment in fragments:
        assert fragment in lines[-1], output
    return lines[-1]


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (the lock file aside) with the hash of its bytes."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name != ".nasplug.lock"
    }


# The second round's tiny runs (issue 28): digits, 3 cells of 4 channels, 2 epochs, one thread.
ROUND2 = ["--dataset", "digits", "--layers", "3", "--channels", "4", "--epochs", "2", "--threads", "1", "--quiet"]
SEARCH2 = ["run", "--space", "darts-cell", "--controller", "random", *ROUND2]
TRAIN2 = ["train", "--genotype", "DARTS_V2", *ROUND2]

