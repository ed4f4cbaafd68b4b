"""Run ``nasplug`` commands in-process from a test, and check the one-line errors users see."""

from __future__ import annotations

from collections.abc import Sequence

from click.testing import CliRunner, Result

TINY_SEARCH = ("--space", "darts-cell", "--dataset", "digits", "--layers", "3", "--channels", "4",
               "--epochs", "1", "--batch-size", "32", "--device", "cpu", "--quiet")
"""A darts-cell search on digits small enough for a test: 3 cells of 4 channels, one epoch."""


def run_cli(*args: object, exit_code: int | None = 0) -> Result:
    """Invoke the ``nasplug`` command line with ``args`` (any objects, passed as strings).

    With ``exit_code`` set (default 0) the exit status must equal it; the failure
    message then shows the command's output. None accepts any status.
    """
    from nasplug.cli import main

    result = CliRunner().invoke(main, [str(arg) for arg in args], catch_exceptions=False)
    if exit_code is not None:
        command = " ".join(map(str, args))
        assert result.exit_code == exit_code, f"nasplug {command}: exit {result.exit_code}\n{result.output}"
    return result


def assert_one_line_error(result: Result, *fragments: str) -> str:
    """The command failed with one ``Error: ...`` line containing every fragment, and no traceback."""
    assert result.exit_code != 0, result.output
    lines = [line for line in result.output.strip().splitlines() if line.strip()]
    assert lines and lines[-1].startswith("Error: "), result.output
    assert "Traceback" not in result.output, result.output
    missing = [fragment for fragment in fragments if fragment not in lines[-1]]
    assert not missing, f"{missing} not in {lines[-1]!r}"
    return lines[-1]


def search_args(controller: str, out: object, *extra: object, base: Sequence[str] = TINY_SEARCH) -> list[str]:
    """``run --controller CONTROLLER --out OUT`` plus the tiny search and ``extra``."""
    return ["run", "--controller", controller, "--out", str(out), *base, *map(str, extra)]
